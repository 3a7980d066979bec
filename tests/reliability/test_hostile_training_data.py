"""Label columns with thousands of classes are refused before anything is queued, in words."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from backend.errors import InvalidInputError
from backend.jobs.store import JobStore
from backend.training import jobs
from backend.training.params import FAST, TrainingParams


def test_thousands_of_well_populated_classes_are_refused_and_nothing_is_queued(tmp_path, settings, tiny_model_paths):
    local = dataclasses.replace(settings, state_dir=tmp_path / "state")
    # 3,000 classes with 6 examples each: every class is "big enough", but no classifier head
    # here should have 3,000 outputs from 18,000 rows.
    frame = pd.DataFrame(
        {
            "text": [f"example {i} of class {i % 3000}" for i in range(18_000)],
            "label": [f"c{i % 3000}" for i in range(18_000)],
        }
    )
    with pytest.raises(InvalidInputError, match="3,000 different values"):
        jobs.check_text_data(frame, "text", "label")
    params = TrainingParams("text", FAST, tiny_model_paths["embeddings"])
    with pytest.raises(InvalidInputError):
        jobs.submit_text_job(params, frame, "text", "label", settings=local)
    assert JobStore(settings=local).list_jobs() == []
    assert not local.runs_dir.exists() or not any(local.runs_dir.iterdir())
