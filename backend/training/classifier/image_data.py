"""Image classification data from an uploaded zip: one folder per class, or a CSV of file + label.

The zip is extracted with ``backend.uploads.extract_zip`` (zip slip, symlinks and bombs refused)
and every image is opened with ``open_image`` (pixel cap, not-an-image) before a job is queued.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path, PurePosixPath

from backend import columns, uploads
from backend.errors import InputTooLargeError, InvalidInputError
from backend.i18n import _, ngettext
from backend.training.classifier.datasets import (
    Examples,
    PreparedDataset,
    check_classes,
    label_text,
    raise_if_errors,
    stratified_split,
)
from backend.training.classifier.params import PARAM_RANGES

UPLOAD_FOLDER = "upload"
_LISTED = 5


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    if len(items) <= _LISTED:
        return shown
    return _("{shown} and {count} more").format(shown=shown, count=len(items) - _LISTED)


def _csv_labels(csv_path: Path, root: Path, errors: list[str]) -> dict[Path, str]:
    frame = uploads.read_table(csv_path.name, csv_path.read_bytes())
    file_column = columns.guess_file_column(frame)
    if len(frame.columns) < 2:
        errors.append(_("{name} needs two columns: file name and label.").format(name=csv_path.name))
        return {}
    label_column = columns.guess_label_column(frame, file_column)
    labelled: dict[Path, str] = {}
    missing, outside, empty = [], [], []
    for position, (name, label) in enumerate(zip(frame[file_column], frame[label_column], strict=True)):
        label = label_text(label)
        name = label_text(name)
        if not name or not label:
            empty.append(str(position + 2))
            continue
        target = (csv_path.parent / PurePosixPath(name.replace("\\", "/"))).resolve()
        if root not in target.parents:
            outside.append(name)
        elif not target.is_file():
            missing.append(name)
        else:
            labelled[target] = label
    if empty:
        errors.append(
            ngettext(
                "{name}: {count} row has no file name or label (row {rows}).",
                "{name}: {count} rows have no file name or label (rows {rows}).",
                len(empty),
            ).format(name=csv_path.name, count=len(empty), rows=_listing(empty))
        )
    if outside:
        errors.append(
            _("{name} names files outside the archive: {files}.").format(name=csv_path.name, files=_listing(outside))
        )
    if missing:
        errors.append(
            ngettext(
                "{name} lists {count} file that is not in the zip: {files}.",
                "{name} lists {count} files that are not in the zip: {files}.",
                len(missing),
            ).format(name=csv_path.name, count=len(missing), files=_listing(missing))
        )
    return labelled


def _folder_labels(images: list[Path], root: Path, errors: list[str]) -> dict[Path, str]:
    relative = [image.relative_to(root).parts for image in images]
    # A zip made by compressing one folder wraps everything in it: skip that shared top level.
    skip = 1 if relative and all(len(p) > 2 for p in relative) and len({p[0] for p in relative}) == 1 else 0
    labelled: dict[Path, str] = {}
    loose = []
    for image, parts in zip(images, relative, strict=True):
        if len(parts) - skip < 2:
            loose.append("/".join(parts))
            continue
        labelled[image] = parts[skip].strip()
    if loose:
        errors.append(
            ngettext(
                "{count} image is not inside a class folder ({files}). Put each class's images in a folder "
                "named after the class, or add a CSV with file name and label columns.",
                "{count} images are not inside a class folder ({files}). Put each class's images in a folder "
                "named after the class, or add a CSV with file name and label columns.",
                len(loose),
            ).format(count=len(loose), files=_listing(loose))
        )
    return labelled


def _read_labels(
    name: str, files: list[Path], root: Path, errors: list[str], warnings: list[str]
) -> tuple[dict[Path, str], str]:
    """Each image's label (from the CSV, else its class folder) and the layout; non-images removed."""
    csvs = [f for f in files if f.suffix.lower() in (".csv", ".tsv")]
    images = [f for f in files if f.suffix.lower() in uploads.IMAGE_SUFFIXES]
    ignored = [f for f in files if f not in csvs and f not in images]
    if ignored:
        warnings.append(
            ngettext(
                "Ignored {count} file that is not an image: {files}.",
                "Ignored {count} files that are not images: {files}.",
                len(ignored),
            ).format(count=len(ignored), files=_listing([str(f.relative_to(root)) for f in ignored]))
        )
        # Removed, not kept: a stray config.json + showcase.json would otherwise pose as a model.
        for path in ignored:
            path.unlink(missing_ok=True)
    if len(csvs) > 1:
        errors.append(
            _("{name} holds {count} CSV files; include at most one (file name, label).").format(
                name=name, count=len(csvs)
            )
        )
    raise_if_errors(errors)
    labelled = _csv_labels(csvs[0], root, errors) if csvs else _folder_labels(images, root, errors)
    raise_if_errors(errors)
    unlisted = [str(image.relative_to(root)) for image in images if image not in labelled]
    if unlisted:
        warnings.append(
            ngettext(
                "{count} image is not in {name} and was left out: {files}.",
                "{count} images are not in {name} and were left out: {files}.",
                len(unlisted),
            ).format(count=len(unlisted), name=csvs[0].name, files=_listing(unlisted))
        )
    if not labelled:
        raise InvalidInputError(
            _("{name} holds no images.").format(name=name),
            _("Use {value} files.").format(value=", ".join(uploads.IMAGE_SUFFIXES)),
        )
    return labelled, "CSV of file names" if csvs else "one folder per class"


def _check_images(
    labelled: dict[Path, str], root: Path, data_dir: Path, max_pixels: int, errors: list[str], warnings: list[str]
) -> list[tuple[str, str]]:
    """Open every image (unreadable and oversized ones refused), drop duplicates: (path in data_dir, label)."""
    unreadable, oversized = [], []
    label_by_hash: dict[str, str] = {}
    conflicts, repeats = [], 0
    kept: list[tuple[str, str]] = []
    for path, label in sorted(labelled.items()):
        shown = str(path.relative_to(root))
        data = path.read_bytes()
        try:
            uploads.open_image(data, shown, max_pixels=max_pixels)
        except InputTooLargeError:
            oversized.append(shown)
            continue
        except InvalidInputError:
            unreadable.append(shown)
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in label_by_hash:
            repeats += 1
            if label_by_hash[digest] != label:
                conflicts.append(shown)
            continue
        label_by_hash[digest] = label
        kept.append((str(path.relative_to(data_dir.resolve())), label))
    if unreadable:
        errors.append(
            ngettext(
                "{count} file is not an image this app can read: {files}. Remove or re-save it.",
                "{count} files are not images this app can read: {files}. Remove or re-save them.",
                len(unreadable),
            ).format(count=len(unreadable), files=_listing(unreadable))
        )
    if oversized:
        errors.append(
            ngettext(
                "{count} image is too large (over {megapixels:,.0f} megapixels or {megabytes:,.0f} MB): "
                "{files}. Resize it.",
                "{count} images are too large (over {megapixels:,.0f} megapixels or {megabytes:,.0f} MB): "
                "{files}. Resize them.",
                len(oversized),
            ).format(
                count=len(oversized),
                megapixels=max_pixels / 1e6,
                megabytes=uploads.MAX_IMAGE_BYTES / 2**20,
                files=_listing(oversized),
            )
        )
    if conflicts:
        errors.append(
            ngettext(
                "{count} image appears under two different labels: {files}.",
                "{count} images appear under two different labels: {files}.",
                len(conflicts),
            ).format(count=len(conflicts), files=_listing(conflicts))
        )
    elif repeats:
        warnings.append(
            ngettext(
                "Removed {count} duplicate image so it cannot sit in both training and validation.",
                "Removed {count} duplicate images so they cannot sit in both training and validation.",
                repeats,
            ).format(count=repeats)
        )
    raise_if_errors(errors)
    return kept


def _split(
    kept: list[tuple[str, str]], validation_fraction: float, seed: int, layout: str, warnings: list[str]
) -> PreparedDataset:
    """Class checks, then a stratified split of the kept images with its summary."""
    errors: list[str] = []
    labels = [label for _, label in kept]
    check_classes(labels, errors, warnings)
    raise_if_errors(errors)
    classes = sorted(set(labels))
    index = {label: i for i, label in enumerate(classes)}
    examples = Examples([path for path, _ in kept], [index[label] for label in labels])
    train_idx, validation_idx = stratified_split(examples.labels, validation_fraction, seed)
    counts = Counter(labels)
    summary = {
        "images": len(kept),
        "classes": {label: counts[label] for label in classes},
        "train_size": len(train_idx),
        "validation_size": len(validation_idx),
        "validation_source": _("{share:.0%} stratified split").format(share=validation_fraction),
        "layout": layout,
    }
    return PreparedDataset(
        "image", classes, examples.subset(train_idx), examples.subset(validation_idx), warnings, summary
    )


def read_labelled_images(
    name: str, data: bytes, data_dir: Path, max_pixels: int = uploads.MAX_IMAGE_PIXELS
) -> tuple[list[tuple[str, str]], str, list[str]]:
    """Extract and check a zip of labelled images into ``data_dir`` (training, and Compare's scores):
    each kept image's path (relative to ``data_dir``) and label, the layout, and the warnings.

    Raises:
        InvalidInputError: unsafe or broken archive, non-images, oversized images, images outside
            class folders, CSV rows naming missing files, or the same image under two labels.
    """
    root = (data_dir / UPLOAD_FOLDER).resolve()
    files = uploads.extract_zip(name, data, root)
    errors: list[str] = []
    warnings: list[str] = []
    labelled, layout = _read_labels(name, files, root, errors, warnings)
    kept = _check_images(labelled, root, data_dir, max_pixels, errors, warnings)
    return kept, layout, warnings


def prepare_image_dataset(
    name: str,
    data: bytes,
    data_dir: Path,
    validation_fraction: float = PARAM_RANGES["validation_fraction"].default,
    seed: int = PARAM_RANGES["seed"].default,
    max_pixels: int = uploads.MAX_IMAGE_PIXELS,
) -> PreparedDataset:
    """Extract, check and split a zip of labelled images into ``data_dir``.

    Args:
        name: the uploaded file's name.
        data: the zip's bytes.
        data_dir: where the images are extracted (inside the run folder).
        validation_fraction: stratified held-out share.
        seed: random seed of the split.
        max_pixels: largest image accepted, in pixels.

    Raises:
        InvalidInputError: unsafe or broken archive, non-images, oversized images, images outside
            class folders, CSV rows naming missing files, one class, rare classes, or the same
            image under two labels.
    """
    kept, layout, warnings = read_labelled_images(name, data, data_dir, max_pixels)
    prepared = _split(kept, validation_fraction, seed, layout, warnings)
    prepared.data_dir = str(data_dir)
    return prepared
