"""Preference-tuning parameters: checked once before queuing, stored and read back."""

from __future__ import annotations

import pytest

from backend.errors import InvalidInputError
from backend.training.chat.params import FULL, LORA
from backend.training.preference.params import (
    PREFERENCE_PARAM_RANGES,
    PreferenceParams,
)


def test_defaults_are_valid_lora_and_full_tuning_learns_more_gently():
    lora = PreferenceParams.defaults("some/model")
    assert lora.validate() is lora and (lora.method, lora.beta, lora.task) == (LORA, 0.1, "preference")
    full = PreferenceParams.defaults("some/model", FULL)
    assert full.validate() is full and full.learning_rate < lora.learning_rate


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"beta": 0.0}, "Beta must be between 0.01 and 5"),
        ({"max_length": 8}, "Max length must be between 32 and 8192"),
        ({"method": "qlora"}, "Unknown method 'qlora'"),
        ({"base_model": "  "}, "No base model chosen"),
        ({"target_modules": "q_proj; drop table"}, "Target modules must be"),
        ({"title": "x" * 500}, "longer than 120 characters"),
    ],
)
def test_each_wrong_field_is_named(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        PreferenceParams(**{"base_model": "some/model", **changes}).validate()


def test_stored_parameters_read_back_cast_and_unknown_keys_are_ignored(tmp_path):
    params = PreferenceParams("some/model", beta=0.25, epochs=3)
    params.save(tmp_path)
    stored = {**params.to_dict(), "epochs": "3", "from_a_newer_version": 1}
    assert stored["task"] == "preference"
    assert PreferenceParams.from_dict(stored) == params
    with pytest.raises(InvalidInputError, match="lack base_model"):
        PreferenceParams.from_dict({"beta": 0.1})


def test_every_numeric_field_has_a_range_for_the_form():
    numeric = {name for name, spec in PreferenceParams.__dataclass_fields__.items() if spec.type in ("int", "float")}
    assert numeric == set(PREFERENCE_PARAM_RANGES)
