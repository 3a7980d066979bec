"""Label columns with thousands of classes are refused before anything is queued, in words."""

from __future__ import annotations

import pandas as pd
import pytest

from backend.errors import InvalidInputError
from backend.training.classifier.datasets import TextLabelColumns, prepare_text_dataset


def test_thousands_of_well_populated_classes_are_refused_before_a_job_can_be_submitted():
    # Submitting takes only a prepared dataset, so data refused here never reaches the queue.
    # 3,000 classes with 6 examples each: every class is "big enough", but no classifier head
    # here should have 3,000 outputs from 18,000 rows.
    frame = pd.DataFrame(
        {
            "text": [f"example {i} of class {i % 3000}" for i in range(18_000)],
            "label": [f"c{i % 3000}" for i in range(18_000)],
        }
    )
    with pytest.raises(InvalidInputError, match="3,000 different values"):
        prepare_text_dataset(frame, TextLabelColumns("text", "label"))
