"""A model card made from hostile titles, labels and columns holds no links, images or HTML."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from markdown_it import MarkdownIt

from backend.training.classifier.datasets import TextLabelColumns, prepare_text_dataset
from backend.training.classifier.model_card import build_model_card
from backend.training.classifier.params import FAST, TrainingParams
from backend.training.evaluation import build_report

PAYLOADS = ["![x](http://evil.example/a.png)", "[click](http://evil.example)", "<img src=x onerror=alert(1)>"]


def test_hostile_title_labels_and_columns_stay_plain_text_in_the_card():
    labels = [PAYLOADS[0], "<script>alert(1)</script>"]
    frame = pd.DataFrame(
        {PAYLOADS[1]: [f"example text {i}" for i in range(24)], PAYLOADS[2]: [labels[i % 2] for i in range(24)]}
    )
    dataset = prepare_text_dataset(frame, TextLabelColumns(PAYLOADS[1], PAYLOADS[2]))
    params = TrainingParams(
        "text", FAST, "org/base\nlicense: evil", title="# Title <b>bold</b> [x](http://evil.example)"
    )
    logits = np.eye(2)[dataset.validation.labels]
    report = build_report(logits, dataset.validation.labels, dataset.classes, dataset.validation.inputs)
    card = build_model_card(params, dataset, report, "2026-12-01", "cpu")

    front, body = card.split("---\n", 2)[1:]
    assert "license:" not in front.replace('"org/base\\nlicense: evil"', "")  # no injected YAML key
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(body)
    tags = set(re.findall(r"<(\w+)", rendered))
    assert tags <= {"h1", "h2", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "code"}, tags
    assert 'href="http://evil' not in rendered and "<img" not in rendered and "<script" not in rendered
