"""Chat-tuning parameters: defaults that validate, ranges that catch typos, JSON round trips."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backend.errors import InvalidInputError
from backend.training.chat.params import ALL_LINEAR, FULL, LORA, ChatTuneParams


def test_defaults_validate_and_survive_json():
    params = ChatTuneParams.defaults("HuggingFaceTB/SmolLM2-135M-Instruct").validate()
    assert (params.method, params.target_module_list(), params.lora_rank) == (LORA, ALL_LINEAR, 16)
    assert ChatTuneParams.from_dict({**params.to_dict(), "unknown": 1, "epochs": "2"}) == replace(params, epochs=2)
    assert ChatTuneParams.defaults("m/x", FULL).learning_rate < params.learning_rate


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "qlora"}, "Unknown method"),
        ({"learning_rate": 5.0}, "Learning rate must be between"),
        ({"lora_rank": 0}, "Lora rank must be between"),
        ({"target_modules": "q_proj; rm -rf"}, "Target modules"),
        ({"base_model": " "}, "No base model"),
        ({"precision": "fp16"}, "Unknown precision"),
    ],
)
def test_bad_values_name_the_field(change, message):
    with pytest.raises(InvalidInputError, match=message):
        replace(ChatTuneParams("m/x"), **change).validate()


def test_module_lists_are_split():
    assert ChatTuneParams("m/x", target_modules="q_proj, v_proj").target_module_list() == ["q_proj", "v_proj"]
