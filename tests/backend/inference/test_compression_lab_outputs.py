"""What a lab run's results become: variant references the loader plans, the briefing's chart and
table, a bounded zip per variant, and labelled-set scores (no model runs here: seconds)."""

import dataclasses
import json
import uuid
import zipfile
from datetime import date
from pathlib import Path

import pytest

from backend.arena import compare, stats
from backend.errors import ModelLoadError, UnsafeModelError
from backend.inference import compression_lab
from backend.jobs.store import SUCCEEDED, Job, JobStore, new_job_id
from backend.market.briefing import BriefingChart, BriefingTable, build_briefing_html
from backend.model_registry import display_name
from backend.models.resolve import catalogue, engine_record
from backend.models.resolve.plan import plan_load
from tests.support import tiny_models

HOSTILE = "<script>alert(1)</script>"


def _lab(model: str) -> dict:
    rows = [
        {"variant": "torch-float32", "label": "torch float32", "passed": True, "agreement": "labels equal on 64 inputs",
         "weights_mb": 4.0, "load_peak_mb": 9.0, "p50_ms": 2.0, "p95_ms": 3.0, "tokens_per_s": None, "speedup": 1.0},
        {"variant": "onnx", "label": "ONNX Runtime", "passed": False, "agreement": HOSTILE,
         "weights_mb": 4.1, "load_peak_mb": 30.0, "p50_ms": 0.5, "p95_ms": 0.9, "tokens_per_s": None, "speedup": 4.0},
    ]  # fmt: skip
    return {"task": catalogue.SENTIMENT, "model": model, "machine": {"cpu": "Test CPU", "threads": "1"}, "rows": rows}


def test_the_briefing_carries_the_lab_chart_and_table_escaped():
    lab = _lab("/models/" + HOSTILE)
    rows = compression_lab.with_scores(lab["rows"], {"onnx": {"accuracy": 0.75, "accuracy_low": 0.5,
                                                              "accuracy_high": 1.0, "macro_f1": 0.7}})  # fmt: skip
    figure = compression_lab.lab_figure(lab, rows)
    header, cells = compression_lab.table_cells(rows)
    page = build_briefing_html(
        [BriefingChart.of(figure, [], 0, fallback="lab")],
        generated=date(2026, 12, 7),
        title="Compression lab",
        tables=[BriefingTable("Every variant", "Test CPU", header, cells)],
        origin="Compression lab",
    )
    assert "Accuracy" in header and ("ONNX Runtime", "no", HOSTILE, "4.1", "30.0", "0.50", "0.90", "", "4.00",
                                     "75.0%", "0.700") in cells  # fmt: skip
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "from Large Model Showcase, Compression lab. 1 chart." in page
    assert "Hollow markers" not in page  # the market charts' reading note stays with them
    # The chart: size on disk against speed, the marker's area the load peak (the larger load, the larger marker).
    scatter = figure.data[0]
    assert list(scatter.x) == [4.0, 4.1] and list(scatter.y) == [1.0, 4.0]
    assert scatter.marker.size[1] > scatter.marker.size[0]


def test_labelled_scores_are_the_compare_views_own():
    truth = ["pos", "neg", "pos", "neg"]
    outputs = {"a": ["pos", "neg", "neg", "neg"], "b": ["POS ", "neg", "pos", "neg"], "missing": None}
    scores, unknown = compare.score_outputs(truth, outputs, translations=False)
    assert scores["a"]["accuracy"] == 0.75 and scores["b"]["accuracy"] == 1.0 and "missing" not in scores
    assert scores["a"]["macro_f1"] == pytest.approx(stats.macro_f1(truth, outputs["a"]))
    assert unknown == []
    references = ["the cat sat", "a dog ran"]
    chrf, _ = compare.score_outputs(references, {"same": references, "other": ["zzz", "qqq"]}, translations=True)
    assert chrf["same"]["chrf"] == pytest.approx(100.0) and chrf["other"]["chrf"] < 10


@pytest.fixture
def classifier(settings):
    return str(tiny_models.build_text_classifier(settings.models_dir / f"lab-ref-{uuid.uuid4().hex[:8]}"))


def test_a_variant_reference_plans_its_path_whatever_the_engine_setting(settings, classifier):
    torch_only = dataclasses.replace(settings, cpu_engine="torch")
    plan = plan_load(catalogue.SENTIMENT, engine_record.variant_ref("int8-dynamic", classifier), torch_only)
    assert (plan.engine, plan.dtype, plan.int8, plan.variant, plan.folder) == (
        "torch", "float32", True, "int8-dynamic", plan_load(catalogue.SENTIMENT, classifier, torch_only).folder
    )  # fmt: skip
    onnx = plan_load(catalogue.SENTIMENT, engine_record.variant_ref("onnx", classifier), torch_only)
    assert (onnx.engine, onnx.int8, onnx.variant) == ("onnx", False, "onnx")
    assert display_name(engine_record.variant_ref("onnx", "org/model")) == "org/model (ONNX Runtime)"
    with pytest.raises(UnsafeModelError, match="names no variant"):
        plan_load(catalogue.SENTIMENT, f"variant:made-up:{classifier}", torch_only)
    with pytest.raises(ModelLoadError, match="not a variant this app runs"):
        plan_load(catalogue.SENTIMENT, engine_record.variant_ref("gguf-q4_k_m", classifier), torch_only)
    nested = engine_record.variant_ref("onnx", engine_record.variant_ref("onnx", classifier))
    with pytest.raises(ModelLoadError, match="not a variant this app runs"):
        plan_load(catalogue.SENTIMENT, nested, torch_only)
    with pytest.raises(UnsafeModelError, match="outside the models folder"):
        plan_load(catalogue.SENTIMENT, engine_record.variant_ref("onnx", "/etc"), torch_only)


def test_a_variant_zip_is_bounded_and_holds_the_engine_copy_and_tokenizer(settings, classifier, tmp_path):
    copy = Path(classifier) / ".lsm-engines" / "onnx-9.9"
    copy.mkdir(parents=True)
    (copy / "model.onnx").write_bytes(b"x" * 3 * 2**20)
    archive, note = compression_lab.zip_variant(
        Path(classifier), "onnx", tmp_path, dataclasses.replace(settings, lab_download_mb=1)
    )
    assert archive is None and "3 MB is more than this server packs for download (1 MB" in note
    archive, note = compression_lab.zip_variant(
        Path(classifier), "onnx", tmp_path, dataclasses.replace(settings, lab_download_mb=10)
    )
    assert note == "a zip of 3.0 MB"
    assert {"model.onnx", "tokenizer/config.json"} <= set(zipfile.ZipFile(archive).namelist())
    assert compression_lab.zip_variant(Path(classifier), "int8-dynamic", tmp_path, settings)[0] is None


def test_a_variant_is_neither_measured_by_the_lab_nor_queued_for_an_engine_check(local, classifier):
    from backend.errors import InvalidInputError
    from backend.inference import engine_check

    onnx = engine_record.variant_ref("onnx", classifier)
    with pytest.raises(InvalidInputError, match="not one of its variants"):
        compression_lab.submit_lab_job(compression_lab.LabRequest(catalogue.SENTIMENT, onnx), "", local)
    auto = dataclasses.replace(local, cpu_engine="auto")
    assert engine_check.wants_check(catalogue.SENTIMENT, classifier, auto) is not None  # the model itself is
    assert engine_check.wants_check(catalogue.SENTIMENT, onnx, auto) is None


def _finished_lab(settings, task: str, model: str) -> None:
    """A succeeded lab run of ``model`` in the job store, its table written where the run leaves it."""
    store = JobStore(settings=settings)
    job_id = new_job_id()
    run_dir = settings.runs_dir / job_id
    run_dir.mkdir(parents=True)
    (run_dir / compression_lab.RESULT_FILE).write_text(json.dumps({**_lab(model), "task": task}), encoding="utf-8")
    store.create(Job(job_id, compression_lab.LAB, task, str(run_dir)))
    store.claim(job_id)
    store.finish(job_id, SUCCEEDED)


def test_compare_is_offered_only_the_variants_of_the_models_it_offers(local):
    # Two translators' labs, one per direction: Compare on en-de offers the en-de model's variants only.
    _finished_lab(local, catalogue.TRANSLATION, "Helsinki-NLP/opus-mt-en-de")
    _finished_lab(local, catalogue.TRANSLATION, "Helsinki-NLP/opus-mt-de-en")
    everything = compression_lab.variant_choices(catalogue.TRANSLATION, "", local)
    assert set(everything) == {
        engine_record.variant_ref("onnx", "Helsinki-NLP/opus-mt-en-de"),
        engine_record.variant_ref("onnx", "Helsinki-NLP/opus-mt-de-en"),
    }
    offered = compression_lab.variant_choices(
        catalogue.TRANSLATION, "", local, leaving_out={"Helsinki-NLP/opus-mt-de-en", "/models/mine"}
    )
    assert list(offered) == [engine_record.variant_ref("onnx", "Helsinki-NLP/opus-mt-en-de")]
