"""Evaluation report of a classifier on its validation set.

Accuracy, macro precision / recall / F1, a per-class table, the confusion matrix, and the
validation examples the model got most confidently wrong: what a user needs to judge a model and
fix their data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backend.records import JsonRecord

EVALUATION_FILE = "evaluation.json"
_WORST_SHOWN = 10


@dataclass
class ClassScore:
    """Scores of one class."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Misclassified:
    """A validation example the model got wrong, with how sure it was."""

    input: str
    true_label: str
    predicted_label: str
    confidence: float


@dataclass
class EvaluationReport(JsonRecord):
    """Everything the results screen shows; ``confusion[i][j]`` counts true i predicted j."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    examples: int
    classes: list[str]
    per_class: list[ClassScore] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    worst: list[Misclassified] = field(default_factory=list)

    def headline(self) -> dict[str, float]:
        """The four summary metrics (what the model manifest and comparisons store)."""
        return {"accuracy": self.accuracy, "precision": self.precision, "recall": self.recall, "f1": self.f1}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationReport:
        """Inverse of ``to_dict``."""
        data = dict(data)
        data["per_class"] = [ClassScore(**row) for row in data.get("per_class", [])]
        data["worst"] = [Misclassified(**row) for row in data.get("worst", [])]
        return cls(**data)

    def save(self, folder: Path) -> Path:
        """Write ``evaluation.json``."""
        path = folder / EVALUATION_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # A class never predicted has precision 0 by convention (as scikit-learn's zero_division=0).
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0)


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def classification_scores(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> dict[str, float]:
    """Accuracy and macro precision, recall and F1 (classes absent from both count as 0)."""
    matrix = confusion_matrix(true, predicted, num_classes)
    hits = np.diag(matrix).astype(float)
    precision = _safe_divide(hits, matrix.sum(axis=0).astype(float))
    recall = _safe_divide(hits, matrix.sum(axis=1).astype(float))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    present = matrix.sum(axis=1) > 0
    return {
        "accuracy": float(hits.sum() / max(1, len(true))),
        "precision": float(precision[present].mean()) if present.any() else 0.0,
        "recall": float(recall[present].mean()) if present.any() else 0.0,
        "f1": float(f1[present].mean()) if present.any() else 0.0,
    }


def build_report(
    logits: np.ndarray,
    true_labels: list[int] | np.ndarray,
    classes: list[str],
    inputs: list[str],
) -> EvaluationReport:
    """Score predictions against the truth.

    Args:
        logits: array (examples, classes) of raw scores.
        true_labels: the true class index of each example.
        classes: class names by index.
        inputs: each example's text or image path, for the worst-misclassified list.
    """
    logits = np.asarray(logits, dtype=np.float64)
    true = np.asarray(true_labels, dtype=np.int64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    num_classes = len(classes)
    matrix = confusion_matrix(true, predicted, num_classes)
    hits = np.diag(matrix).astype(float)
    precision = _safe_divide(hits, matrix.sum(axis=0).astype(float))
    recall = _safe_divide(hits, matrix.sum(axis=1).astype(float))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    per_class = [
        ClassScore(
            classes[i],
            round(float(precision[i]), 4),
            round(float(recall[i]), 4),
            round(float(f1[i]), 4),
            int(matrix[i].sum()),
        )
        for i in range(num_classes)
    ]
    wrong = np.flatnonzero(predicted != true)
    worst_order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]])][:_WORST_SHOWN]
    worst = [
        Misclassified(
            inputs[i], classes[true[i]], classes[predicted[i]], round(float(probabilities[i, predicted[i]]), 4)
        )
        for i in worst_order
    ]
    scores = classification_scores(true, predicted, num_classes)
    return EvaluationReport(
        accuracy=round(scores["accuracy"], 4),
        precision=round(scores["precision"], 4),
        recall=round(scores["recall"], 4),
        f1=round(scores["f1"], 4),
        examples=int(len(true)),
        classes=list(classes),
        per_class=per_class,
        confusion=matrix.tolist(),
        worst=worst,
    )
