"""A compression lab run's variants as Compare columns: offered beside their model, loaded by their
variant reference through the page's one loader, and answering side by side with their cost."""

from __future__ import annotations

import json
import uuid

import pytest

from backend import config
from backend.inference import compression_lab
from backend.jobs.store import SUCCEEDED, Job, JobStore, new_job_id
from backend.models.resolve import catalogue, engine_record
from tests.support import tiny_models

PAGE = "pages/demos/compare.py"


@pytest.fixture
def measured_classifier(tmp_path, monkeypatch, settings):
    """A tiny classifier on disk and a succeeded lab run of it (its table as the job writes it), in a
    private state folder."""
    folder = str(tiny_models.build_text_classifier(settings.models_dir / f"compare-lab-{uuid.uuid4().hex[:8]}"))
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    config.get_settings.cache_clear()
    local = config.get_settings()
    run_dir = local.runs_dir / "job-lab"
    run_dir.mkdir(parents=True)
    measured = {"weights_mb": 1.0, "load_peak_mb": 2.0, "p50_ms": 1.0, "p95_ms": 2.0, "speedup": 1.0}
    rows = [
        {"variant": "torch-float32", "label": "torch float32", "passed": True, "agreement": "equal", **measured},
        {"variant": "int8-dynamic", "label": "torch dynamic int8", "passed": True, "agreement": "equal", **measured},
        {"variant": "onnx", "label": "ONNX Runtime", "passed": False, "agreement": "differs", **measured},
    ]
    lab = {"task": catalogue.SENTIMENT, "model": folder, "machine": {"cpu": "test"}, "rows": rows}
    (run_dir / compression_lab.RESULT_FILE).write_text(json.dumps(lab))
    store = JobStore(settings=local)
    store.create(Job("job-lab", compression_lab.LAB, catalogue.SENTIMENT, str(run_dir), title="Compression lab"))
    store.claim("job-lab")
    store.finish("job-lab", SUCCEEDED)
    yield folder
    monkeypatch.undo()
    config.get_settings.cache_clear()


def test_lab_variants_are_compare_columns_that_answer(open_page, measured_classifier):
    int8 = engine_record.variant_ref("int8-dynamic", measured_classifier)
    onnx = engine_record.variant_ref("onnx", measured_classifier)
    app = open_page(PAGE)
    picker = app.multiselect(key="compare.sentiment.models")
    options = list(picker.options)  # as the browser shows them
    assert any("torch dynamic int8 · compressed, agrees with float32" in option for option in options)
    assert any("ONNX Runtime · compressed, differs from float32" in option for option in options)
    assert not any("torch float32 · compressed" in option for option in options)  # float32 is the model itself
    picker.set_value([int8, onnx]).run()
    app.text_area(key="compare.sentiment.text").input("A lovely, quiet hotel.").run()
    app.button(key="compare.sentiment.run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    headings = [m.value for m in app.markdown if m.value.startswith("**")]
    assert any("(torch dynamic int8)" in h for h in headings) and any("(ONNX Runtime)" in h for h in headings)
    costs = [c.value for c in app.caption if ":material/timer:" in c.value]
    assert len(costs) == 2  # each variant ran for real and has its latency, rate, memory and device


@pytest.fixture
def measured_translators(tmp_path, monkeypatch):
    """Succeeded lab runs of two catalogue translators, one per direction, in a private state folder."""
    monkeypatch.setenv("LSM_STATE_DIR", str(tmp_path / "state"))
    config.get_settings.cache_clear()
    local = config.get_settings()
    store = JobStore(settings=local)
    measured = {"weights_mb": 1.0, "load_peak_mb": 2.0, "p50_ms": 1.0, "p95_ms": 2.0, "speedup": 1.0}
    for model in ("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en"):
        job_id = new_job_id()
        run_dir = local.runs_dir / job_id
        run_dir.mkdir(parents=True)
        rows = [{"variant": "onnx", "label": "ONNX Runtime", "passed": True, "agreement": "equal", **measured}]
        lab = {"task": catalogue.TRANSLATION, "model": model, "machine": {"cpu": "test"}, "rows": rows}
        (run_dir / compression_lab.RESULT_FILE).write_text(json.dumps(lab))
        store.create(Job(job_id, compression_lab.LAB, catalogue.TRANSLATION, str(run_dir)))
        store.claim(job_id)
        store.finish(job_id, SUCCEEDED)
    yield
    monkeypatch.undo()
    config.get_settings.cache_clear()


def test_a_direction_offers_only_the_variants_of_its_own_translators(open_page, measured_translators):
    app = open_page(PAGE)
    app.segmented_control(key="compare.task").set_value(catalogue.TRANSLATION).run()
    app.selectbox(key="compare.direction").set_value("en-de").run()
    options = list(app.multiselect(key="compare.translation.en-de.models").options)
    assert [option for option in options if "compressed" in option] == [
        option for option in options if "opus-mt-en-de" in option and "ONNX Runtime" in option
    ]
    assert sum("compressed" in option for option in options) == 1
    assert not any("opus-mt-de-en" in option for option in options)
