"""The model card (README.md) written beside every finished model: data, parameters, metrics.

Titles, labels, column names and data warnings come from users: they are escaped with
``plain_markdown`` so a card on the hub or in the app never grows links, images or HTML.
"""

from __future__ import annotations

import json
from typing import Any

from backend.i18n import _
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
        _("fast mode: frozen features with a trained linear head")
        if params.method == FAST
        else _("full fine-tuning of every weight (transformers Trainer)")
    )
    class_rows = [(label, count) for label, count in dataset.summary.get("classes", {}).items()]
    param_rows = [(key, value) for key, value in params.to_dict().items() if key not in ("task", "title")]
    per_class = [(s.label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", s.support) for s in report.per_class]
    warnings = "\n".join(f"- {plain_markdown(w)}" for w in dataset.warnings) or "- " + _("none")
    default_title = _("Text classifier") if params.task == "text" else _("Image classifier")
    title = plain_markdown(params.title) if params.title else default_title
    intro = (
        _(
            "Text classifier fine-tuned from {base} with {method}, created {created} on {device} by the Large Model"
            " Showcase fine-tuning studio."
        )
        if params.task == "text"
        else _(
            "Image classifier fine-tuned from {base} with {method}, created {created} on {device} by the Large Model"
            " Showcase fine-tuning studio."
        )
    ).format(base=plain_markdown(params.base_model), method=method, created=created, device=device)
    examples = [
        _("Training examples: {count}").format(count=dataset.summary.get("train_size", len(dataset.train))),
        _("Validation examples: {count} ({source})").format(
            count=dataset.summary.get("validation_size", len(dataset.validation)),
            source=dataset.summary.get("validation_source", ""),
        ),
    ]
    fast_text = params.method == FAST and params.task == "text"
    use = _(
        "The labels are in `config.json` (`id2label`). Load the folder with the showcase's"
        " `backend.models.loader.load_model`, or with transformers' Auto classes."
    ) + (
        " "
        + _("Fast-mode text models need the showcase's loader: they are an encoder plus `embedding_head.safetensors`.")
        if fast_text
        else ""
    )
    limits = _(
        "Scores come from a validation set of {count} examples drawn from the same upload as the training data;"
        " expect lower scores on data that looks different."
    ).format(count=report.examples)
    metrics_header = "| {} | {} | {} | {} |".format(
        _("accuracy"), _("macro precision"), _("macro recall"), _("macro F1")
    )
    sections = {
        "data": _("Data"),
        "data_checks": _("Data checks:"),
        "training_parameters": _("Training parameters"),
        "validation_metrics": _("Validation metrics"),
        "use": _("Use"),
        "limits": _("Limits"),
    }
    class_table = _table((_("class"), _("examples")), class_rows)
    parameter_table = _table((_("parameter"), _("value")), param_rows)
    per_class_table = _table((_("class"), _("precision"), _("recall"), "F1", _("support")), per_class)
    return f"""---
library_name: transformers
pipeline_tag: {"text-classification" if params.task == "text" else "image-classification"}
base_model: {json.dumps(params.base_model)}
---

# {title}

{intro}

## {sections["data"]}

- {examples[0]}
- {examples[1]}

{class_table}

{sections["data_checks"]}
{warnings}

## {sections["training_parameters"]}

{parameter_table}

## {sections["validation_metrics"]}

{metrics_header}
|---|---|---|---|
| {report.accuracy:.3f} | {report.precision:.3f} | {report.recall:.3f} | {report.f1:.3f} |

{per_class_table}

## {sections["use"]}

{use}

## {sections["limits"]}

{limits}
"""
