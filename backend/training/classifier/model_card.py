"""The model card (README.md) written beside every finished model: data, parameters, metrics.

Titles, labels, column names and data warnings come from users: they are escaped with
``plain_markdown`` so a card on the hub or in the app never grows links, images or HTML.
"""

from __future__ import annotations

import json
from typing import Any

from backend.text_safety import plain_markdown
from backend.training.classifier.datasets import PreparedDataset
from backend.training.classifier.params import FAST, TrainingParams
from backend.training.evaluation import EvaluationReport


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(plain_markdown(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def build_model_card(
    params: TrainingParams, dataset: PreparedDataset, report: EvaluationReport, created: str, device: str
) -> str:
    """Markdown describing how the model was made and how well it does on its validation set."""
    method = (
        "fast mode: frozen features with a trained linear head"
        if params.method == FAST
        else "full fine-tuning of every weight (transformers Trainer)"
    )
    kind = "Text" if params.task == "text" else "Image"
    class_rows = [(label, count) for label, count in dataset.summary.get("classes", {}).items()]
    param_rows = [(key, value) for key, value in params.to_dict().items() if key not in ("task", "title")]
    per_class = [(s.label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", s.support) for s in report.per_class]
    warnings = "\n".join(f"- {plain_markdown(w)}" for w in dataset.warnings) or "- none"
    title = plain_markdown(params.title) if params.title else f"{kind} classifier"
    base_model = plain_markdown(params.base_model)
    return f"""---
library_name: transformers
pipeline_tag: {"text-classification" if params.task == "text" else "image-classification"}
base_model: {json.dumps(params.base_model)}
---

# {title}

{kind} classifier fine-tuned from {base_model} with {method}, created {created} on {device}
by the Large Model Showcase fine-tuning studio.

## Data

- Training examples: {dataset.summary.get("train_size", len(dataset.train))}
- Validation examples: {dataset.summary.get("validation_size", len(dataset.validation))} ({dataset.summary.get("validation_source", "")})

{_table(("class", "examples"), class_rows)}

Data checks:
{warnings}

## Training parameters

{_table(("parameter", "value"), param_rows)}

## Validation metrics

| accuracy | macro precision | macro recall | macro F1 |
|---|---|---|---|
| {report.accuracy:.3f} | {report.precision:.3f} | {report.recall:.3f} | {report.f1:.3f} |

{_table(("class", "precision", "recall", "F1", "support"), per_class)}

## Use

The labels are in `config.json` (`id2label`). Load the folder with the showcase's
`backend.models.loader.load_model`, or with transformers' Auto classes
{"(fast-mode text models need the showcase's loader: they are an encoder plus `embedding_head.safetensors`)" if params.method == FAST and params.task == "text" else ""}.

## Limits

Scores come from a validation set of {report.examples} examples drawn from the same upload as the
training data; expect lower scores on data that looks different.
"""
