"""Image classification: the top labels of a photo with their probabilities.

Preprocessing is the model's own transformers image processor on PIL images (no torchvision).
Images come in through ``backend.uploads.open_image`` (pixel cap, EXIF orientation, RGB, and shrunk
to ``MODEL_IMAGE_SIDE`` on the long side before the model). Like the
sentiment module this uses only ``loaded.preprocessor(...)``, ``loaded.model(**batch).logits`` and
``loaded.model.config.id2label``, so fine-tuned image classifiers work unchanged.

Batch use (benchmarks)::

    predictions = image_classification.classify_images(loaded, [image_a, image_b], batch_size=16)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from backend.config import PROJECT_ROOT
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.inference import tables
from backend.inference.batching import ProgressCallback, check_batch_size, run_sorted
from backend.inference.footer import RunFooter, make_footer, stopwatch
from backend.models.loader import LoadedModel
from backend.models.resolve.device import torch_dtype
from backend.records import JsonRecord
from backend.uploads import MODEL_IMAGE_SIDE, check_count, open_image

TOP_K = 5
DEFAULT_BATCH_SIZE = 8
MAX_IMAGES = 50
SAMPLES_DIR = PROJECT_ROOT / "data" / "samples"


@dataclass(frozen=True)
class LabelScore:
    """One label and its probability."""

    label: str
    score: float


@dataclass(frozen=True)
class ImagePrediction(JsonRecord):
    """One image's top labels, most probable first, with the image's size as classified."""

    name: str
    width: int
    height: int
    top: list[LabelScore]

    @property
    def label(self) -> str:
        """The most probable label."""
        return self.top[0].label


@dataclass(frozen=True)
class ImageResult(JsonRecord):
    """The demo's answer for one image."""

    prediction: ImagePrediction
    footer: RunFooter


def sample_images() -> list[Path]:
    """The photos shipped for the demo (see data/README.md), by file name."""
    return sorted(SAMPLES_DIR.glob("*.jpg"))


def read_sample(name: str) -> bytes:
    """The bytes of the shipped sample photo called ``name`` (its file stem, e.g. ``cat``).

    Raises:
        InvalidInputError: there is no such sample.
    """
    for path in sample_images():
        if path.stem == name:
            return path.read_bytes()
    raise InvalidInputError(_("There is no sample image called {name!r}.").format(name=name))


def _labels(loaded: LoadedModel) -> list[str]:
    id2label = loaded.model.config.id2label
    return [str(id2label[index]) for index in sorted(id2label, key=int)]


def _classify_batch(loaded: LoadedModel, images: list[tuple[str, Image.Image]], top_k: int) -> list[ImagePrediction]:
    labels = _labels(loaded)
    batch = loaded.preprocessor([image for _, image in images], return_tensors="pt")
    # Half-precision models on a GPU need half-precision pixels; token ids elsewhere stay integers.
    dtype = torch_dtype(loaded.dtype)
    batch = {
        name: tensor.to(loaded.device.torch_device, dtype=dtype if tensor.is_floating_point() else None)
        for name, tensor in batch.items()
    }
    with torch.inference_mode():
        logits = loaded.model(**batch).logits
    probabilities = torch.softmax(logits.float(), dim=-1).cpu()
    k = min(top_k, len(labels))
    scores, indices = probabilities.topk(k, dim=-1)
    return [
        ImagePrediction(
            name=name,
            width=image.width,
            height=image.height,
            top=[LabelScore(labels[i], round(float(s), 6)) for s, i in zip(row_scores, row_indices, strict=True)],
        )
        for (name, image), row_scores, row_indices in zip(images, scores.tolist(), indices.tolist(), strict=True)
    ]


def classify_images(
    loaded: LoadedModel,
    images: Sequence[Image.Image],
    names: Sequence[str] | None = None,
    top_k: int = TOP_K,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> list[ImagePrediction]:
    """Classify images in size-sorted batches; predictions in the input order.

    Args:
        loaded: an image-classification model from the runtime.
        images: RGB PIL images (open uploads with ``backend.uploads.open_image``).
        names: a name per image for the results (default: "image 1", "image 2", ...).
        top_k: labels to return per image (at most the model's number of labels).
        batch_size: images per forward pass.
        progress: called with (done, total) after each batch.

    Raises:
        InvalidInputError: no images, too many, or bad options.
    """
    check_batch_size(batch_size)
    check_count(
        len(images),
        MAX_IMAGES,
        _("There is no image to classify."),
        _("{images} images were given; the limit is {MAX_IMAGES}.").format(images=len(images), MAX_IMAGES=MAX_IMAGES),
    )
    if not isinstance(top_k, int) or top_k < 1:
        raise InvalidInputError(_("top_k must be a positive whole number; got {top_k!r}.").format(top_k=top_k))
    names = list(names) if names is not None else [f"image {n}" for n in range(1, len(images) + 1)]
    if len(names) != len(images):
        raise ValueError("names and images differ in length")
    items = [(name, image.convert("RGB")) for name, image in zip(names, images, strict=True)]
    return run_sorted(
        items,
        [image.width * image.height for _, image in items],
        batch_size,
        lambda batch: _classify_batch(loaded, batch, top_k),
        progress,
    )


def classify_image(loaded: LoadedModel, image: Image.Image, name: str = "image", top_k: int = TOP_K) -> ImageResult:
    """Classify one image for the demo, with the run's footer."""
    with stopwatch() as watch:
        [prediction] = classify_images(loaded, [image], [name], top_k, batch_size=1)
    return ImageResult(prediction=prediction, footer=make_footer(loaded, watch.elapsed_ms, 1, "image"))


def open_files(files: Sequence[tuple[str, bytes]]) -> tuple[list[Image.Image], tables.TextColumn]:
    """The readable images among uploaded ``(name, bytes)`` files, and which rows they are.

    The column's ``texts`` are the readable files' names, its ``notes`` say why each other file
    was refused. Files are decoded one at a time and each is shrunk to ``MODEL_IMAGE_SIDE`` on its
    long side as it is decoded, so the list holds small images only.

    Raises:
        InvalidInputError: no files, too many, or none of them is a readable image.
    """
    check_count(
        len(files),
        MAX_IMAGES,
        _("No images were uploaded."),
        _("{files} files were uploaded; the limit is {MAX_IMAGES}.").format(files=len(files), MAX_IMAGES=MAX_IMAGES),
    )
    opened: list[Image.Image] = []
    names: list[str] = []
    rows: list[int] = []
    notes: dict[int, str] = {}
    for row, (name, data) in enumerate(files):
        try:
            opened.append(open_image(data, name, max_side=MODEL_IMAGE_SIDE))
            names.append(name)
            rows.append(row)
        except InvalidInputError as error:
            notes[row] = error.user_text()
    if not opened:
        raise InvalidInputError(
            _("None of the uploaded files is an image this app can read."), _("Use PNG, JPEG or WebP.")
        )
    return opened, tables.TextColumn(texts=names, rows=rows, notes=notes)


def classify_files(
    loaded: LoadedModel,
    files: Sequence[tuple[str, bytes]],
    top_k: int = TOP_K,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> tables.TableRun:
    """Batch mode: open each uploaded file and classify the readable ones.

    Files that are not images, or too large, stay in the table with the reason in ``note``.

    Raises:
        InvalidInputError: no files, too many, or none of them is a readable image.
    """
    opened, column = open_files(files)
    frame = pd.DataFrame({"file": [name for name, _ in files]})
    with stopwatch() as watch:
        predictions = classify_images(loaded, opened, column.texts, top_k, batch_size, progress)
    table = tables.with_results(
        frame,
        column,
        {
            "width": [p.width for p in predictions],
            "height": [p.height for p in predictions],
            "label": [p.label for p in predictions],
            "score": [p.top[0].score for p in predictions],
            f"top {top_k}": ["; ".join(f"{item.label} {item.score:.1%}" for item in p.top) for p in predictions],
        },
    )
    footer = make_footer(loaded, watch.elapsed_ms, len(predictions), "image")
    return tables.TableRun(table=table, footer=footer, skipped=len(column.notes))
