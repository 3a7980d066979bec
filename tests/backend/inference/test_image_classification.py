"""Image classification on the tiny ViT, with real image files and the shipped samples."""

import copy
import dataclasses
import io
import json
import math
import struct
import zlib

import pytest
import torch
from PIL import Image

from backend.errors import InvalidInputError
from backend.inference import image_classification
from backend.models.loader import load_model
from backend.uploads import open_image
from tests.support import tiny_models, tolerances


def _png(width: int, height: int, colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _bomb_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's first bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + end


def test_top_five_labels_are_sorted_probabilities(image_model):
    image = open_image(image_classification.read_sample("cat"), "cat.jpg")
    result = image_classification.classify_image(image_model, image, "cat.jpg")
    top = result.prediction.top
    assert [item.label for item in top] and set(item.label for item in top) == set(tiny_models.IMAGE_LABELS)
    scores = [item.score for item in top]
    assert scores == sorted(scores, reverse=True)
    assert math.isclose(sum(scores), 1.0, abs_tol=1e-4)  # the tiny model has exactly five labels
    assert result.prediction.label == top[0].label
    assert (result.prediction.width, result.prediction.height) == image.size
    assert result.footer.items == 1 and result.footer.unit == "image" and result.footer.tokens == 0
    json.dumps(result.to_dict())


def test_top_k_is_capped_by_the_number_of_labels(image_model):
    image = Image.new("RGB", (40, 30))
    [three] = image_classification.classify_images(image_model, [image], top_k=3)
    [many] = image_classification.classify_images(image_model, [image], top_k=50)
    assert len(three.top) == 3 and len(many.top) == len(tiny_models.IMAGE_LABELS)


def test_size_sorted_batches_keep_the_input_order_and_match_single_runs(tiny_model_paths, settings, compute_dtype):
    chosen = tolerances.settings_computing_in(settings, compute_dtype)
    image_model = load_model("image-classification", tiny_model_paths["image-classification"], chosen)
    images = [
        Image.new("RGB", size, colour)
        for size, colour in [((20, 20), "red"), ((300, 200), "blue"), ((64, 48), "green")]
    ]
    progress = []
    batched = image_classification.classify_images(
        image_model, images, ["a", "b", "c"], batch_size=2, progress=lambda d, t: progress.append((d, t))
    )
    assert [p.name for p in batched] == ["a", "b", "c"]
    assert [(p.width, p.height) for p in batched] == [(20, 20), (300, 200), (64, 48)]
    assert progress == [(2, 3), (3, 3)]
    for image, many in zip(images, batched, strict=True):
        [one] = image_classification.classify_images(image_model, [image], batch_size=1)
        assert [i.label for i in one.top] == [i.label for i in many.top]
        # One image or a batch of them: other kernel shapes, a rounding or two of the dtype apart.
        assert one.top[0].score == pytest.approx(many.top[0].score, abs=tolerances.tolerance(compute_dtype, 2).atol)


def test_exif_orientation_is_respected(image_model):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("RGB", (80, 40), "white").save(buffer, "JPEG", exif=exif)
    image = open_image(buffer.getvalue(), "rotated.jpg")
    [prediction] = image_classification.classify_images(image_model, [image])
    assert (prediction.width, prediction.height) == (40, 80)


def test_classify_files_keeps_refused_files_in_the_table_with_the_reason(image_model):
    files = [
        ("red.png", _png(50, 40)),
        ("notes.txt", b"not an image at all"),
        ("bomb.png", _bomb_header(50_000, 50_000)),
        ("blue.png", _png(30, 90, (0, 0, 255))),
    ]
    run = image_classification.classify_files(image_model, files, batch_size=2)
    table = run.table.set_index("file")
    assert run.skipped == 2 and run.footer.items == 2 and run.footer.unit == "image"
    assert "not an image" in table.loc["notes.txt", "note"]
    assert "pixels" in table.loc["bomb.png", "note"]
    assert table.loc["red.png", "label"] in tiny_models.IMAGE_LABELS
    assert (table.loc["blue.png", "width"], table.loc["blue.png", "height"]) == (30, 90)
    assert table.loc["red.png", "note"] == ""


def test_only_non_images_is_refused(image_model):
    with pytest.raises(InvalidInputError, match="None of the uploaded files"):
        image_classification.classify_files(image_model, [("a.txt", b"hello")])
    with pytest.raises(InvalidInputError):
        image_classification.classify_images(image_model, [])


def test_samples_are_small_readable_photos():
    samples = image_classification.sample_images()
    assert {p.stem for p in samples} >= {"cat", "coffee", "rocket", "astronaut"}
    assert sum(p.stat().st_size for p in samples) < 1_000_000
    for path in samples:
        image = open_image(path.read_bytes(), path.name)
        assert max(image.size) <= 512
    with pytest.raises(InvalidInputError):
        image_classification.read_sample("../../secrets")


def test_a_half_precision_model_gives_nearly_the_same_scores(image_model):
    # On a GPU the runtime loads models in bfloat16 or float16 (and pixels are cast to match).
    half = dataclasses.replace(image_model, model=copy.deepcopy(image_model.model).to(torch.bfloat16), dtype="bfloat16")
    [prediction] = image_classification.classify_images(half, [Image.new("RGB", (40, 40), "navy")])
    [full] = image_classification.classify_images(image_model, [Image.new("RGB", (40, 40), "navy")])
    assert len(prediction.top) == 5
    assert prediction.top[0].score == pytest.approx(full.top[0].score, abs=0.02)
