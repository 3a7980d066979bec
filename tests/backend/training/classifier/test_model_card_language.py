"""The classifier's model card is written in the language of the person who started the job."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backend.i18n import use_language
from backend.training.classifier.datasets import TextLabelColumns, prepare_text_dataset
from backend.training.classifier.model_card import build_model_card
from backend.training.classifier.params import FAST, TrainingParams
from backend.training.evaluation import build_report


def _card(language: str) -> str:
    frame = pd.DataFrame({"text": [f"example text {i}" for i in range(24)], "label": ["good", "bad"] * 12})
    dataset = prepare_text_dataset(frame, TextLabelColumns("text", "label"))
    logits = np.eye(2)[dataset.validation.labels]
    report = build_report(logits, dataset.validation.labels, dataset.classes, dataset.validation.inputs)
    with use_language(language):
        return build_model_card(TrainingParams("text", FAST, "org/base"), dataset, report, "2026-12-01", "cpu")


def test_a_chinese_starter_gets_a_chinese_card_and_an_english_one_an_english_card():
    chinese = _card("zh")
    assert "\n# 文本分类器\n" in chinese
    assert "## 验证指标" in chinese and "| 准确率 | 宏平均精确率 | 宏平均召回率 | 宏平均 F1 |" in chinese
    assert "快速模式：冻结特征" in chinese
    assert "Validation metrics" not in chinese and "fine-tuned from" not in chinese
    english = _card("en")
    assert "# Text classifier" in english and "## Validation metrics" in english
