"""Parameter validation and the evaluation report's numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.errors import InvalidInputError
from backend.training.classifier.params import FAST, FULL, PARAM_RANGES, TrainingParams, default_params
from backend.training.evaluation import EvaluationReport, build_report, classification_scores


def test_defaults_are_valid_and_fast_mode_trains_the_head_longer():
    full = default_params("text", FULL, "org/base").validate()
    fast = default_params("text", FAST, "org/embedder").validate()
    assert full.epochs == 3 and full.learning_rate == 5e-5
    assert fast.epochs > full.epochs and fast.learning_rate > full.learning_rate


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"learning_rate": 5.0}, "Learning rate must be between"),
        ({"epochs": 0}, "Epochs must be between 1 and 200"),
        ({"batch_size": 0}, "Batch size must be between"),
        ({"validation_fraction": 0.9}, "Validation fraction must be between"),
        ({"method": "lora"}, "Unknown training method 'lora'"),
        ({"task": "audio"}, "Unknown task 'audio'"),
        ({"base_model": "  "}, "No base model chosen"),
        ({"precision": "fp8"}, "Unknown precision"),
    ],
)
def test_out_of_range_values_are_named(change, message):
    values = {**TrainingParams("text", FULL, "org/base").to_dict(), **change}
    with pytest.raises(InvalidInputError, match=message):
        TrainingParams(**values).validate()


def test_params_round_trip_through_the_run_folder(tmp_path):
    params = TrainingParams("image", FAST, "org/vit", title="Leaves", epochs=7, learning_rate=0.003)
    path = params.save(tmp_path)
    assert TrainingParams.from_dict(json.loads(path.read_text(encoding="utf-8"))) == params


@pytest.mark.parametrize("name", sorted(PARAM_RANGES))
def test_every_range_bound_is_allowed_and_just_past_it_is_refused(name):
    bounds = PARAM_RANGES[name]
    base = TrainingParams("text", FULL, "org/base")
    for value in (bounds.low, bounds.high):
        assert getattr(TrainingParams(**{**base.to_dict(), name: value}).validate(), name) == value
    step = 1 if isinstance(bounds.low, int) else bounds.high * 0.01
    with pytest.raises(InvalidInputError, match="must be between"):
        TrainingParams(**{**base.to_dict(), name: bounds.high + step}).validate()


def test_from_dict_casts_text_numbers_and_ignores_unknown_keys():
    params = TrainingParams.from_dict(
        {"task": "text", "method": "full", "base_model": "a/b", "epochs": "4", "colour": "red"}
    )
    assert params.epochs == 4
    with pytest.raises(InvalidInputError, match="lack base_model"):
        TrainingParams.from_dict({"task": "text", "method": "full"})
    with pytest.raises(InvalidInputError, match="Parameter epochs has an invalid value"):
        TrainingParams.from_dict({"task": "text", "method": "full", "base_model": "a/b", "epochs": "many"})


def test_scores_match_hand_computed_values():
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    scores = classification_scores(true, predicted, 3)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    # precision: class0 2/2, class1 1/2, class2 1/2; recall: 2/3, 1/2, 1/1
    assert scores["precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert scores["recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    f1 = [2 * p * r / (p + r) for p, r in ((1, 2 / 3), (0.5, 0.5), (0.5, 1))]
    assert scores["f1"] == pytest.approx(sum(f1) / 3)


def test_report_has_confusion_matrix_per_class_table_and_worst_examples():
    logits = np.array([[5.0, 0.0], [0.0, 1.0], [0.0, 9.0], [2.0, 0.0]])
    report = build_report(logits, [0, 0, 1, 1], ["cat", "dog"], ["a.png", "b.png", "c.png", "d.png"])
    assert report.confusion == [[1, 1], [1, 1]]
    assert report.accuracy == 0.5
    assert [row.label for row in report.per_class] == ["cat", "dog"]
    assert [row.support for row in report.per_class] == [2, 2]
    # Worst first: d.png was predicted "cat" with p=0.88, b.png "dog" with p=0.73.
    assert [(w.input, w.true_label, w.predicted_label) for w in report.worst] == [
        ("d.png", "dog", "cat"),
        ("b.png", "cat", "dog"),
    ]
    assert report.worst[0].confidence == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-4)
    assert EvaluationReport.from_dict(report.to_dict()) == report


def test_a_class_never_predicted_scores_zero_not_nan():
    report = build_report(np.array([[1.0, 0.0], [1.0, 0.0]]), [0, 1], ["a", "b"], ["x", "y"])
    assert report.per_class[1].precision == 0.0 and report.per_class[1].recall == 0.0
    assert report.f1 == pytest.approx((2 / 3 + 0) / 2, abs=1e-4)
