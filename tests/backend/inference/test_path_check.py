"""The ``auto`` engine setting: the background check of a model's paths (each in its own child
process), its recorded decision, and loads that follow it or fall back."""

import dataclasses
import os
import signal
import uuid
from pathlib import Path

import numpy as np
import pytest

from backend import worker
from backend.inference import engine_check, path_check, sentiment
from backend.jobs.store import JobStore
from backend.models.cache import ModelCache
from backend.models.engines import runtimes
from backend.models.loader import load_model
from backend.models.resolve import catalogue, engine_choice, engine_record
from backend.models.resolve.plan import plan_load
from tests.support import tiny_models

SENTIMENT = catalogue.SENTIMENT

# Every path runs in a fresh interpreter of its own (torch imported each time): minutes, not seconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def auto(settings, tmp_path_factory):
    """Settings with the ``auto`` engine and a private state folder."""
    return dataclasses.replace(settings, cpu_engine="auto", state_dir=tmp_path_factory.mktemp("path-check") / "state")


@pytest.fixture(scope="module")
def classifier(settings):
    return str(tiny_models.build_text_classifier(settings.models_dir / f"path-check-{uuid.uuid4().hex[:8]}"))


@pytest.fixture(scope="module")
def checked_by_the_worker(auto, classifier):
    """The first load under ``auto`` queues the check; the worker's handler runs it to its end."""
    loaded = load_model(SENTIMENT, classifier, auto)
    job = engine_check.request_check(loaded, "", auto)
    assert job is not None and job.kind == engine_check.ENGINE_CHECK
    assert engine_check.request_check(loaded, "", auto) is None  # once: it is pending
    assert worker.run_job(job.id, auto) == "succeeded"
    return JobStore(settings=auto).get(job.id)


def _onnx_copy(classifier):
    [copy] = (Path(classifier) / runtimes.CACHE_FOLDER).glob("onnx-*")
    return copy


def test_the_worker_checks_every_path_and_records_the_fastest_that_agrees(checked_by_the_worker, auto, classifier):
    decision = engine_check.read_decision(checked_by_the_worker)
    folder = plan_load(SENTIMENT, classifier, auto).folder
    assert engine_record.read_decision(SENTIMENT, folder, auto) == decision
    names = [result.path for result in decision.results]
    assert names[0] == "torch-float32"
    assert set(names) == {"torch-float32", "torch-bfloat16", "int8-dynamic", "onnx", "onnx-int8"}
    onnx = decision.result("onnx")
    # The same weights in float32: ONNX Runtime agrees far inside the tolerance, on all 64 texts.
    assert onnx.passed and onnx.reason == "" and onnx.agreement == "labels equal on 64 inputs"
    assert onnx.figures["labels_differing"] == 0 and onnx.figures["max_score_difference"] < 1e-4
    # ONNX Runtime's memory is its own process's: its peak (an interpreter with the engine loaded,
    # tens of MB) counts in the path's load peak.
    assert onnx.figures["load_peak_mb"] > 20
    assert decision.inputs == len(path_check.TEXTS) == 64
    assert decision.chosen == decision.fastest_passing() != ""
    assert decision.machine == engine_record.machine()
    # A decision on record: the next load needs no check.
    assert engine_check.wants_check(SENTIMENT, classifier, auto) is None


def test_loads_follow_the_decision_and_the_footer_says_so(checked_by_the_worker, auto, classifier):
    decision = engine_check.read_decision(checked_by_the_worker)
    decision.chosen = "onnx"  # whichever was fastest here, the loader must take what is recorded
    folder = plan_load(SENTIMENT, classifier, auto).folder
    engine_record.write_decision(decision, folder, auto)
    plan = plan_load(SENTIMENT, classifier, auto)
    assert (plan.engine, plan.checked) == (engine_choice.ONNX, "onnx")
    loaded = load_model(SENTIMENT, classifier, auto)
    assert isinstance(loaded.model, runtimes.OnnxModel)
    footer = sentiment.classify_text(loaded, "A fine film.").footer
    assert footer.path_note.startswith("ONNX Runtime, checked today: ")
    assert footer.path_note.endswith("x faster, labels equal on 64 inputs")
    # A model the shared cache loaded before the decision is loaded again on the decided path.
    cache = ModelCache(2**30, settings=auto)
    engine_record.decision_file(SENTIMENT, folder, auto).rename(folder.parent / "held-decision.json")
    assert cache.get_planned(plan_load(SENTIMENT, classifier, auto)).engine == engine_choice.TORCH
    (folder.parent / "held-decision.json").rename(engine_record.decision_file(SENTIMENT, folder, auto))
    assert isinstance(cache.get_planned(plan_load(SENTIMENT, classifier, auto)).model, runtimes.OnnxModel)
    # Forcing stays possible: torch (or any explicit engine) ignores the decision.
    forced = load_model(SENTIMENT, classifier, dataclasses.replace(auto, cpu_engine="torch"))
    assert forced.engine == engine_choice.TORCH and forced.path_note == ""


def test_a_corrupted_path_is_rejected_with_its_reason(checked_by_the_worker, auto, classifier):
    weights = _onnx_copy(classifier) / runtimes.ONNX_WEIGHTS
    original = weights.read_bytes()
    values = np.frombuffer(original, dtype=np.float32).copy()
    values = -3 * values + np.random.default_rng(1).normal(0, 0.5, values.shape).astype(np.float32)
    try:
        weights.write_bytes(values.tobytes())
        decision = path_check.check_model(SENTIMENT, classifier, auto, paths=(engine_record.ONNX_RUNTIME,))
    finally:
        weights.write_bytes(original)
    onnx = decision.result("onnx")
    assert not onnx.passed
    assert "labels differ on" in onnx.reason or "scores differ by up to" in onnx.reason
    assert decision.chosen != "onnx"
    assert plan_load(SENTIMENT, classifier, auto).checked != "onnx"


def test_a_crashed_path_is_recorded_and_another_is_chosen(checked_by_the_worker, auto, classifier):
    def crash(name, pid):
        if name == "onnx":
            os.kill(pid, signal.SIGSEGV)  # what a segfaulting engine does to its process

    decision = path_check.check_model(SENTIMENT, classifier, auto, paths=(engine_record.ONNX_RUNTIME,), on_start=crash)
    assert decision.result("onnx").reason == "crashed (SIGSEGV)"
    assert decision.chosen == "torch-float32"
    loaded = load_model(SENTIMENT, classifier, auto)
    assert loaded.engine == engine_choice.TORCH and loaded.path_note.startswith("torch float32, checked today")


def test_an_engine_that_fails_in_the_app_falls_back_and_is_recorded(checked_by_the_worker, auto, classifier):
    decision = engine_check.read_decision(checked_by_the_worker)
    decision.chosen = "onnx"
    folder = plan_load(SENTIMENT, classifier, auto).folder
    engine_record.write_decision(decision, folder, auto)
    graph = _onnx_copy(classifier) / "model.onnx"
    original = graph.read_bytes()
    try:
        graph.write_bytes(b"not a graph")
        loaded = load_model(SENTIMENT, classifier, auto)
    finally:
        graph.write_bytes(original)
    assert loaded.engine == engine_choice.TORCH  # the answer still comes
    recorded = engine_record.read_decision(SENTIMENT, folder, auto)
    assert recorded.failures["onnx"].startswith("failed to load in the app")
    assert recorded.chosen != "onnx" and plan_load(SENTIMENT, classifier, auto).checked == recorded.chosen


def test_no_check_without_auto_or_for_tasks_without_paths(auto, classifier, tiny_model_paths):
    assert engine_check.wants_check(SENTIMENT, classifier, dataclasses.replace(auto, cpu_engine="torch")) is None
    assert (
        engine_check.wants_check(SENTIMENT, classifier, dataclasses.replace(auto, cpu_engine="sentiment=onnx")) is None
    )
    assert engine_check.wants_check(catalogue.EMBEDDINGS, tiny_model_paths["embeddings"], auto) is None


def test_a_decision_belongs_to_its_weights_and_machine(checked_by_the_worker, auto, classifier):
    machine = engine_record.machine()
    assert machine["cpu"] and "torch" in machine["versions"] and machine["threads"].isdigit()
    folder = plan_load(SENTIMENT, classifier, auto).folder
    key = engine_record.model_key(SENTIMENT, folder)
    weights = next(folder.glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # new weights, as a save would
    try:
        assert engine_record.model_key(SENTIMENT, folder) != key
        assert engine_record.read_decision(SENTIMENT, folder, auto) is None
        assert plan_load(SENTIMENT, classifier, auto).checked == ""
    finally:
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_label_flipped_at_a_near_tie_is_named_not_failed():
    """A label that changes where float32's top two scores are within the tolerance is a near-tie
    the allowed score difference can flip; one that changes where they are further apart fails."""
    near_tie = ({"NEGATIVE": 0.505, "POSITIVE": 0.495}, {"NEGATIVE": 0.497, "POSITIVE": 0.503})
    clear = ({"NEGATIVE": 0.9, "POSITIVE": 0.1}, {"NEGATIVE": 0.899, "POSITIVE": 0.101})
    reason, figures = path_check.compare(SENTIMENT, {"outputs": [near_tie[0], clear[0]]},
                                         {"outputs": [near_tie[1], clear[1]]})  # fmt: skip
    assert reason == "" and figures["labels_differing"] == 1 and figures["labels_differing_decided"] == 0
    words = path_check.agreement_words(SENTIMENT, figures)
    assert words.startswith("labels equal on 63 of 64 inputs, the other 1 near a tie in float32"), words
    flipped = {"NEGATIVE": 0.48, "POSITIVE": 0.52}
    tight = {"NEGATIVE": 0.515, "POSITIVE": 0.485}  # 0.03 apart: more than the tolerance
    reason, _ = path_check.compare(SENTIMENT, {"outputs": [tight]}, {"outputs": [flipped]})
    assert reason.startswith("labels differ on 1 of 1 input where float32's top two scores are more than 0.02")
    assert path_check.SCORE_TOLERANCE == 0.02
