"""Image batches are bounded in memory: checked from headers, decoded one at a time and shrunk.

Twelve 6300x6300 PNGs are 1.3 MB uploaded but 1.4 GB decoded. The page's check must decode none
of them, the worker one at a time (each shrunk before the next), and a batch has a pixel budget.
RSS is sampled right after every decode (a fixed point in the code, not a timer).
"""

from __future__ import annotations

import gc
import io

import psutil
import pytest
from PIL import Image, ImageFile

from backend import uploads, worker
from backend.errors import InvalidInputError
from backend.inference import batch as batch_jobs
from backend.inference.batch import BatchRequest
from backend.jobs.store import SUCCEEDED, JobStore
from backend.models.resolve import catalogue

SIDE = 6300
# Five full-size 6300x6300 RGB images decoded together are 595 MB; one is 119 MB.
GROWTH_BOUND = 400 * 2**20


@pytest.fixture(scope="module")
def big_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (SIDE, SIDE), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()  # about 130 KB: one colour compresses well


@pytest.fixture
def decodes(monkeypatch) -> list[tuple[tuple[int, int], int]]:
    """Each full decode's image size and the process's RSS just after it."""
    seen: list[tuple[tuple[int, int], int]] = []
    load = ImageFile.ImageFile.load

    def measured_load(self):
        decoding = bool(self.tile)  # PIL empties the tile list once the pixels are decoded
        pixels = load(self)
        if decoding:
            seen.append((self.size, psutil.Process().memory_info().rss))
        return pixels

    monkeypatch.setattr(ImageFile.ImageFile, "load", measured_load)
    return seen


def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def _request(tiny_model_paths) -> BatchRequest:
    return BatchRequest(
        catalogue.IMAGE_CLASSIFICATION, tiny_model_paths[catalogue.IMAGE_CLASSIFICATION], file_name="big"
    )


def test_a_batch_of_large_images_is_checked_without_decoding_and_run_one_at_a_time(
    local, tiny_model_paths, big_png, decodes
):
    files = [(f"{n}.png", big_png) for n in range(5)]  # 198 megapixels: within the budget
    before = _rss()
    job = batch_jobs.submit_image_batch_job(_request(tiny_model_paths), files, owner="ann", settings=local)
    assert decodes == []  # the Streamlit process decoded nothing
    assert _rss() - before < GROWTH_BOUND
    assert job.dataset == {"rows": 5, "items": 5, "skipped": 0}

    before = _rss()
    assert worker.run_job(job.id, local) == SUCCEEDED
    assert len([size for size, _ in decodes if size == (SIDE, SIDE)]) == 5
    # Full decoding would hold 595 MB at the last decode; one at a time, shrunk, holds one.
    assert max(rss for _, rss in decodes) - before < GROWTH_BOUND
    result = batch_jobs.read_result(JobStore(settings=local).require(job.id))
    assert result is not None and result.footer.items == 5
    assert set(result.table["width"]) == {uploads.MODEL_IMAGE_SIDE}


def test_a_batch_over_the_pixel_budget_is_refused_naming_both_numbers(local, tiny_model_paths, big_png, decodes):
    files = [(f"{n}.png", big_png) for n in range(12)]  # 476 megapixels, each under the 40 MP cap
    before = _rss()
    with pytest.raises(InvalidInputError, match=r"476 megapixels in all; the limit for a batch is 200 megapixels"):
        batch_jobs.submit_image_batch_job(_request(tiny_model_paths), files, owner="ann", settings=local)
    assert decodes == []
    assert _rss() - before < GROWTH_BOUND
    assert JobStore(settings=local).list_jobs() == []


def test_the_worker_reads_stored_images_one_file_at_a_time(local, tiny_model_paths, monkeypatch):
    files = [("a.png", b"not an image"), ("b.png", b"nor this")]
    monkeypatch.setattr(batch_jobs, "check_images", lambda files: 1)  # store them as they are
    job = batch_jobs.submit_image_batch_job(_request(tiny_model_paths), files, owner="ann", settings=local)
    stored = batch_jobs._read_images(local.runs_dir / job.id)
    (local.runs_dir / job.id / batch_jobs.IMAGES_FOLDER / "001").unlink()
    assert len(stored) == 2 and stored[0] == ("a.png", b"not an image")  # read on demand, not up front
    assert list(stored[:1]) == [("a.png", b"not an image")]
