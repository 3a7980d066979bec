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
    job = Job(
        id="20261201-000000-abcdef",
        kind="train",
        owner="",
        title="",
        task="text",
        method="fast",
        base_model="org/model",
        status="succeeded",
        created=0.0,
        run_dir="/runs/x",
        progress=1.0,
        metrics={"accuracy": 0.9, "f1": 0.8},
    )
    [row] = tables.jobs_table([job]).to_dict("records")
    assert row["title"] == job.id and row["progress"] == 100 and row["accuracy"] == 0.9 and row["macro F1"] == 0.8
