"""Job lists and progress texts carry the jobs' real values."""

from __future__ import annotations

from backend.jobs import tables
from backend.jobs.store import Job


def test_eta_wording():
    assert tables.format_eta(None) == ""
    assert tables.format_eta(42) == "about 42 s left"
    assert tables.format_eta(150) == "about 2 min left"
    assert tables.format_eta(7200) == "about 2.0 h left"


def test_jobs_table_has_one_row_per_job_with_its_headline_numbers():
    job = _job(
        kind="train", task="text", method="fast", status="succeeded", progress=1.0, metrics={"accuracy": 0.9, "f1": 0.8}
    )
    [row] = tables.jobs_table([job]).to_dict("records")
    assert (
        row["title"] == job.id and row["progress"] == 100 and row["accuracy"] == "90.0%" and row["macro F1"] == "80.0%"
    )


def test_a_job_without_figures_shows_a_dash_not_none():
    [row] = tables.jobs_table([_job(status="queued", metrics={})]).to_dict("records")
    assert row["accuracy"] == row["macro F1"] == row["val loss"] == tables.NO_FIGURE


def _job(**fields) -> Job:
    defaults = dict(
        id="20261201-000000-abcdef",
        kind="chat",
        task="text-generation",
        run_dir="/runs/x",
        method="lora",
        base_model="org/model",
        status="running",
        created=0.0,
    )
    return Job(**{**defaults, **fields})


def test_the_status_line_does_not_repeat_the_status_word():
    assert tables.status_detail(_job(status="failed", message="Failed")) == ""
    assert tables.status_detail(_job(status="cancelled", message="Cancelled")) == ""
    assert tables.status_detail(_job(status="failed", message="Out of memory")) == "Out of memory"
    assert tables.status_detail(_job(status="running", message="Training")) == "Training"
    # The worker's end line, in whichever language the job was started in, repeats the status too.
    assert tables.status_detail(_job(status="succeeded", message="Finished")) == ""
    assert tables.status_detail(_job(status="succeeded", message="已结束")) == ""
    assert tables.status_detail(_job(status="running", message="Finished")) == "Finished"


def test_the_progress_text_says_loading_before_the_first_step_and_evaluating_after_the_last():
    assert tables.progress_text(_job(total_steps=0, step=0)) == "Loading the base model…"
    assert tables.progress_text(_job(total_steps=40, step=40, eta_seconds=0.0)) == "Step 40 of 40 · Evaluating…"
    middle = _job(total_steps=40, step=10, epoch=0.5, eta_seconds=30.0)
    assert tables.progress_text(middle) == "Step 10 of 40 · epoch 0.5 · about 30 s left"
