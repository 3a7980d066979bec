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
from backend.i18n import _
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
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more


def _csv_labels(csv_path: Path, root: Path, errors: list[str]) -> dict[Path, str]:
    frame = uploads.read_table(csv_path.name, csv_path.read_bytes())
    file_column = columns.guess_file_column(frame)
    if len(frame.columns) < 2:
        errors.append(f"{csv_path.name} needs two columns: file name and label.")
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
        errors.append(f"{csv_path.name}: {len(empty)} row(s) have no file name or label (rows {_listing(empty)}).")
    if outside:
        errors.append(f"{csv_path.name} names files outside the archive: {_listing(outside)}.")
    if missing:
        errors.append(f"{csv_path.name} lists {len(missing)} file(s) that are not in the zip: {_listing(missing)}.")
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
            f"{len(loose)} image(s) are not inside a class folder ({_listing(loose)}). Put each class's images in a"
            " folder named after the class, or add a CSV with file name and label columns."
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
            f"Ignored {len(ignored)} file(s) that are not images: {_listing([str(f.relative_to(root)) for f in ignored])}."
        )
        # Removed, not kept: a stray config.json + showcase.json would otherwise pose as a model.
        for path in ignored:
            path.unlink(missing_ok=True)
    if len(csvs) > 1:
        errors.append(f"{name} holds {len(csvs)} CSV files; include at most one (file name, label).")
    raise_if_errors(errors)
    labelled = _csv_labels(csvs[0], root, errors) if csvs else _folder_labels(images, root, errors)
    raise_if_errors(errors)
    unlisted = [str(image.relative_to(root)) for image in images if image not in labelled]
    if unlisted:
        warnings.append(f"{len(unlisted)} image(s) are not in {csvs[0].name} and were left out: {_listing(unlisted)}.")
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
            f"{len(unreadable)} file(s) are not images this app can read: {_listing(unreadable)}. Remove or re-save them."
        )
    if oversized:
        errors.append(
            f"{len(oversized)} image(s) are too large (over {max_pixels / 1e6:,.0f} megapixels or"
            f" {uploads.MAX_IMAGE_BYTES / 2**20:,.0f} MB): {_listing(oversized)}. Resize them."
        )
    if conflicts:
        errors.append(f"{len(conflicts)} image(s) appear under two different labels: {_listing(conflicts)}.")
    elif repeats:
        warnings.append(f"Removed {repeats} duplicate image(s) so they cannot sit in both training and validation.")
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
        "validation_source": f"{validation_fraction:.0%} stratified split",
        "layout": layout,
    }
    return PreparedDataset(
        "image", classes, examples.subset(train_idx), examples.subset(validation_idx), warnings, summary
    )


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
    root = (data_dir / UPLOAD_FOLDER).resolve()
    files = uploads.extract_zip(name, data, root)
    errors: list[str] = []
    warnings: list[str] = []
    labelled, layout = _read_labels(name, files, root, errors, warnings)
    kept = _check_images(labelled, root, data_dir, max_pixels, errors, warnings)
    prepared = _split(kept, validation_fraction, seed, layout, warnings)
    prepared.data_dir = str(data_dir)
    return prepared
