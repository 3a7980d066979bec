"""The checked decision on record: how it is read, noted, failed over, and shown on the Models page."""

import dataclasses
import datetime as dt

from backend.models.resolve import catalogue, engine_record
from backend.models.resolve.engine_record import EngineDecision, PathResult
from backend.models.resolve.plan import plan_load
from backend.models.status import checked_rows


def _decision(chosen: str) -> EngineDecision:
    results = [
        PathResult("torch-float32", True, seconds_per_item=0.010, speedup=1.0, agreement="labels equal on 64 inputs"),
        PathResult("int8-dynamic", True, seconds_per_item=0.005, speedup=2.0, agreement="labels equal on 64 inputs"),
        PathResult("onnx", True, seconds_per_item=0.002, speedup=5.8, agreement="labels equal on 64 inputs"),
        PathResult("torch-bfloat16", False, "labels differ on 2 of 64 inputs", 0.004, 2.5),
    ]
    return EngineDecision(catalogue.SENTIMENT, "m", chosen, "2026-12-07T05:00:00+00:00", engine_record.machine(), 64,
                          results)  # fmt: skip


def test_the_note_names_the_path_its_speedup_and_its_agreement():
    decision = _decision("onnx")
    today = dt.date(2026, 12, 7)
    assert engine_record.decision_note(decision, today) == (
        "ONNX Runtime, checked today: 5.8x faster, labels equal on 64 inputs"
    )
    assert engine_record.decision_note(decision, dt.date(2026, 12, 9)).startswith(
        "ONNX Runtime, checked on 2026-12-07:"
    )
    assert engine_record.decision_note(_decision("torch-float32"), today) == (
        "torch float32, checked today: the fastest of 4 paths"
    )
    assert engine_record.decision_note(None) == ""


def test_the_fastest_passing_path_wins_and_a_failure_moves_loads_to_the_next(settings, tiny_model_paths, tmp_path):
    local = dataclasses.replace(settings, cpu_engine="auto", state_dir=tmp_path / "state")
    ref = tiny_model_paths["sentiment"]
    folder = plan_load(catalogue.SENTIMENT, ref, local).folder
    decision = _decision("")
    assert decision.fastest_passing() == "onnx"  # bfloat16 is faster than int8 but disagreed
    decision.chosen = decision.fastest_passing()
    engine_record.write_decision(decision, folder, local)
    assert plan_load(catalogue.SENTIMENT, ref, local).checked == "onnx"
    engine_record.record_failure(catalogue.SENTIMENT, folder, "onnx", "crashed while answering", local)
    plan = plan_load(catalogue.SENTIMENT, ref, local)
    assert (plan.checked, plan.engine, plan.dtype, plan.int8) == ("int8-dynamic", "torch", "float32", True)
    rows = checked_rows(local)
    assert len(rows) == 1 and rows[0]["Runs on"].startswith("torch dynamic int8, checked")
    assert "ONNX Runtime: crashed while answering" in rows[0]["Failed or refused"]
    assert "torch bfloat16: labels differ on 2 of 64 inputs" in rows[0]["Failed or refused"]


def test_an_unreadable_record_is_no_decision(settings, tiny_model_paths, tmp_path):
    local = dataclasses.replace(settings, cpu_engine="auto", state_dir=tmp_path / "state")
    folder = plan_load(catalogue.SENTIMENT, tiny_model_paths["sentiment"], local).folder
    target = engine_record.decision_file(catalogue.SENTIMENT, folder, local)
    target.parent.mkdir(parents=True)
    target.write_text("{not json")
    assert engine_record.read_decision(catalogue.SENTIMENT, folder, local) is None
    assert plan_load(catalogue.SENTIMENT, tiny_model_paths["sentiment"], local).checked == ""
