"""The compression lab as a job: every variant of a tiny classifier measured, carded and zipped."""

import dataclasses
import io
import uuid
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from backend import worker
from backend.errors import InvalidInputError
from backend.inference import compression_lab
from backend.jobs.progress import JobCancelled
from backend.jobs.store import JobStore
from backend.models.resolve import catalogue
from tests.support import tiny_models

# Every path runs in a fresh interpreter of its own (torch imported each time): minutes, not seconds.
pytestmark = pytest.mark.slow


@pytest.fixture
def lab_settings(local):
    return dataclasses.replace(local, cpu_engine="torch")


@pytest.fixture
def classifier(settings):
    return str(tiny_models.build_text_classifier(settings.models_dir / f"lab-{uuid.uuid4().hex[:8]}"))


def test_the_lab_measures_every_variant_with_cards_and_downloads(lab_settings, classifier):
    job = compression_lab.submit_lab_job(compression_lab.LabRequest(catalogue.SENTIMENT, classifier), "", lab_settings)
    assert worker.run_job(job.id, lab_settings) == "succeeded"
    job = JobStore(settings=lab_settings).get(job.id)
    lab = compression_lab.read_lab(job)
    rows = {row["variant"]: row for row in lab["rows"]}
    assert set(rows) == {"torch-float32", "torch-bfloat16", "int8-dynamic", "onnx", "onnx-int8"}
    reference, onnx = rows["torch-float32"], rows["onnx"]
    assert reference["passed"] and reference["speedup"] == 1.0 and reference["max_score_difference"] == 0
    assert onnx["passed"] and onnx["agreement"] == "labels equal on 64 inputs"
    for row in rows.values():
        assert row["weights_mb"] > 0 and 0 < row["p50_ms"] <= row["p95_ms"]
    table = pd.read_csv(io.BytesIO((Path(job.run_dir) / compression_lab.RESULT_CSV).read_bytes()))
    assert list(table["variant"]) == [row["variant"] for row in lab["rows"]]
    card, archive = compression_lab.variant_files(job, "onnx")
    assert "Agreement with float32: labels equal on 64 inputs" in card.read_text()
    assert {"model.onnx", "model.onnx.data"} <= set(zipfile.ZipFile(archive).namelist())
    card, archive = compression_lab.variant_files(job, "onnx-int8")  # its own copy, not the float32 one
    assert "model.onnx" in zipfile.ZipFile(archive).namelist()
    assert "model.onnx.data" not in zipfile.ZipFile(archive).namelist()
    card, archive = compression_lab.variant_files(job, "int8-dynamic")
    assert archive is None and "LSM_CPU_QUANTIZE=int8" in card.read_text()  # made at load time, named by its setting
    assert compression_lab.variant_files(job, "../../etc/passwd") == (None, None)


def test_a_lab_run_cancels_between_variants(lab_settings, classifier):
    job = compression_lab.submit_lab_job(compression_lab.LabRequest(catalogue.SENTIMENT, classifier), "", lab_settings)
    with pytest.raises(JobCancelled):
        compression_lab.run_lab_job(job, should_stop=lambda: True, settings=lab_settings)
    assert compression_lab.read_lab(job) is None


def test_the_lab_refuses_what_it_cannot_measure(lab_settings, tiny_model_paths):
    request = compression_lab.LabRequest(catalogue.EMBEDDINGS, tiny_model_paths["embeddings"])
    with pytest.raises(InvalidInputError, match="The lab measures"):
        compression_lab.submit_lab_job(request, "", lab_settings)
    assert compression_lab.list_lab_jobs("", lab_settings) == []
