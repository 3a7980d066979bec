"""The measure job runs a real (tiny) model through the worker, and the calculator's arithmetic
is checked against that measured run."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend import worker
from backend.decisions import cost, measure, speed
from backend.errors import InvalidInputError
from backend.i18n import use_language
from backend.jobs.store import QUEUED, SUCCEEDED, JobStore
from backend.models.resolve import catalogue


@pytest.fixture
def measured(local, tiny_model_paths):
    """A finished measurement of the tiny sentiment model, run by the job loop."""
    request = measure.MeasureRequest(
        catalogue.SENTIMENT, tiny_model_paths[catalogue.SENTIMENT], "nlp-sentiment-analysis"
    )
    job = measure.submit_measure_job(request, owner="ann", settings=local)
    assert (job.status, job.kind) == (QUEUED, measure.MEASURE)
    assert worker.run_job(job.id, local) == SUCCEEDED, JobStore(settings=local).require(job.id).error
    return JobStore(settings=local).require(job.id)


def test_a_measurement_is_recorded_in_the_state_folder_with_its_machine_and_date(local, measured):
    record = speed.newest_measurements(local)[catalogue.SENTIMENT]
    path = Path(measured.artefacts["measurement"])
    assert path.parent == local.state_dir / speed.MEASUREMENTS_FOLDER
    assert json.loads(path.read_text(encoding="utf-8")) == record.to_dict() == measured.metrics
    inputs = len(measure.fixed_inputs(catalogue.SENTIMENT, record.model))
    assert record.items == inputs == measured.step == measured.total_steps
    assert 0 < record.latency_p50_ms <= record.latency_p95_ms
    assert record.origin == speed.MEASURED and record.runs_on_cpu and record.device.startswith("CPU")
    assert "cores" in record.machine and record.memory_bandwidth_gb_s and record.memory_bandwidth_gb_s > 0
    assert record.date == datetime.now(UTC).strftime("%Y-%m-%d")
    assert record.peak_memory_mb >= 0
    assert measured.id in record.method and record.date in record.provenance()
    # Stored in no one's language: the source line says the CPU and machine in the reader's.
    with use_language("zh"):
        source = record.provenance()
    assert "cores" not in source and "核" in source


def test_the_calculator_is_checked_against_the_measured_run(local, measured):
    record = speed.speed_by_task(local)[catalogue.SENTIMENT]
    assert record.origin == speed.MEASURED  # this server's measurement comes before the benchmark's
    estimate = cost.cost_of(record, price_per_hour=0.40, demand_per_hour=250_000)
    per_hour = record.throughput * 3600
    assert estimate.requests_per_hour == pytest.approx(per_hour, abs=0.05)
    assert estimate.cost_per_1000 == pytest.approx(0.40 / per_hour * 1000, rel=1e-4)
    machines = -(-250_000 // per_hour)
    assert estimate.machines == machines and estimate.cost_per_hour_at_demand == pytest.approx(machines * 0.40)
    assert estimate.latency_p95_ms == record.latency_p95_ms
    assert (estimate.machine, estimate.measured_at) == (record.machine, record.measured_at)


def test_an_estimate_for_other_hardware_is_marked_and_scaled_by_bandwidth(local, measured):
    record = speed.newest_measurements(local)[catalogue.SENTIMENT]
    h100 = speed.estimate_on(record, "NVIDIA H100")
    assert h100 is not None and h100.origin == speed.ESTIMATE and "memory-bandwidth bound" in h100.method
    ratio = record.memory_bandwidth_gb_s / 3350
    assert h100.latency_p95_ms == pytest.approx(record.latency_p95_ms * ratio, rel=1e-3)
    assert h100.throughput == pytest.approx(record.throughput / ratio, rel=1e-3)
    assert "estimate" in h100.provenance()
    assert speed.estimate_on(record, "an unknown accelerator") is None  # no guessing


def test_the_benchmarks_recorded_figures_stand_in_until_something_is_measured(local):
    figures = speed.speed_by_task(local)
    assert set(figures) == {
        catalogue.SENTIMENT,
        catalogue.TRANSLATION,
        catalogue.IMAGE_CLASSIFICATION,
        catalogue.TEXT_GENERATION,
    }
    recorded = figures[catalogue.SENTIMENT]
    assert recorded.origin == speed.BENCHMARK and recorded.measured_at.startswith("2026-11-24")
    assert recorded.latency_p95_ms == 21.5 and "AMD EPYC" in recorded.machine  # benchmarks/results/quick-cpu.md


@pytest.mark.parametrize(("price", "message"), [("abc", "must be a number"), (-1, "from 0"), (float("nan"), "from 0")])
def test_a_bad_price_is_refused_with_a_message(price, message):
    record = speed.recorded_figures()[catalogue.SENTIMENT]
    with pytest.raises(InvalidInputError, match=message):
        cost.cost_of(record, price)


def test_a_task_without_a_demo_model_is_refused_before_queuing(local, tiny_model_paths):
    request = measure.MeasureRequest("object-detection", tiny_model_paths[catalogue.SENTIMENT])
    with pytest.raises(InvalidInputError, match="no demo model"):
        measure.submit_measure_job(request, owner="ann", settings=local)
    assert JobStore(settings=local).list_jobs() == []


def test_a_use_case_costs_the_sum_of_its_tasks_run_in_turn():
    figures = speed.recorded_figures()
    parts = [figures[catalogue.TRANSLATION], figures[catalogue.TEXT_GENERATION]]
    combined = speed.combined_record("Translate and reply", parts)
    assert combined.latency_p95_ms == pytest.approx(339.8 + 909.3)
    pace = 1 / (1 / parts[0].throughput + 1 / parts[1].throughput)
    assert combined.throughput == pytest.approx(pace)
    assert combined.peak_memory_mb == pytest.approx(448.0 + 1040.0)
    assert combined.origin == speed.BENCHMARK and "translation: benchmark record" in combined.provenance()
    estimate = cost.cost_of(combined, 0.40)
    assert estimate.cost_per_1000 == pytest.approx(0.40 / (pace * 3600) * 1000)
    h100 = speed.estimate_on(dataclasses.replace(parts[0], memory_bandwidth_gb_s=20.0), "NVIDIA H100")
    assert speed.combined_record("x", [h100, parts[1]]).origin == speed.ESTIMATE  # one estimate makes it one


def test_an_image_model_is_measured_on_the_shipped_sample_photos(local, tiny_model_paths):
    request = measure.MeasureRequest(catalogue.IMAGE_CLASSIFICATION, tiny_model_paths[catalogue.IMAGE_CLASSIFICATION])
    job = measure.submit_measure_job(request, owner="ann", settings=local)
    assert worker.run_job(job.id, local) == SUCCEEDED, JobStore(settings=local).require(job.id).error
    record = speed.newest_measurements(local)[catalogue.IMAGE_CLASSIFICATION]
    assert record.items == len(measure.fixed_inputs(catalogue.IMAGE_CLASSIFICATION, request.model_ref)) > 0
