"""Synthetic, learnable datasets for the fine-tuning tests (made here, never downloaded)."""

from __future__ import annotations

import io
import random
import zipfile

import pandas as pd
from PIL import Image

from backend.training.classifier.datasets import PreparedDataset, TextLabelColumns, prepare_text_dataset
from backend.training.classifier.params import TrainingParams

# Words the tiny test tokenizer knows (tests/tiny_models.py CORPUS), split by sentiment.
POSITIVE_WORDS = ["love", "great", "works", "fine", "fast", "useful", "product", "喜欢", "很", "好"]
NEGATIVE_WORDS = ["worst", "service", "ever", "had", "have", "最", "差", "服", "务", "the"]


def learnable_texts(per_class: int = 30, seed: int = 0) -> pd.DataFrame:
    """Two classes whose texts use disjoint vocabularies: easy to learn, impossible by chance."""
    rng = random.Random(seed)
    rows = []
    for label, words in (("positive", POSITIVE_WORDS), ("negative", NEGATIVE_WORDS)):
        for _ in range(per_class):
            rows.append({"text": " ".join(rng.choices(words, k=rng.randint(4, 9))), "label": label})
    rng.shuffle(rows)
    return pd.DataFrame(rows)


def prepared_texts(frame: pd.DataFrame, params: TrainingParams) -> PreparedDataset:
    """A ``text``/``label`` table checked and split with ``params``, as the page's *Check data* does."""
    return prepare_text_dataset(
        frame, TextLabelColumns("text", "label"), None, params.validation_fraction, params.seed, params.max_length
    )


def colour_image(rgb: tuple[int, int, int], seed: int, size: int = 32) -> bytes:
    """A PNG of one colour with noise, so every file differs."""
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size))
    image.putdata([tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in rgb) for _ in range(size * size)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_zip(files: dict[str, bytes]) -> bytes:
    """A zip holding ``files`` (archive path -> bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def colour_folders_zip(per_class: int = 10, prefix: str = "") -> bytes:
    """Folder-per-class zip: red vs blue images."""
    files = {}
    for label, rgb in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        for i in range(per_class):
            files[f"{prefix}{label}/{i}.png"] = colour_image(rgb, seed=hash((label, i)) % 10_000)
    return image_zip(files)
