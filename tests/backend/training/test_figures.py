"""Figures and tables of the fine-tuning screens carry the job's real numbers."""

from __future__ import annotations

import numpy as np

from backend.training import figures
from backend.training.evaluation import build_report


def _report():
    logits = np.array([[3.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 1.0]])
    return build_report(logits, [0, 1, 1, 1], ["neg", "pos"], ["a", "b", "c", "d"])


def test_confusion_heatmap_shows_the_counts_with_class_names():
    figure = figures.build_confusion_figure(_report())
    heatmap = figure.data[0]
    assert [list(row) for row in heatmap.z] == [[1, 0], [1, 2]]
    assert list(heatmap.x) == ["neg", "pos"] and list(heatmap.y) == ["neg", "pos"]


def test_class_names_from_the_owners_table_are_drawn_as_typed():
    logits = np.array([[3.0, 0.0], [0.0, 2.0]])
    classes = ["<a href='http://evil.example'>neg</a>", "<b>pos</b>"]
    heatmap = figures.build_confusion_figure(build_report(logits, [0, 1], classes, ["a", "b"])).data[0]
    escaped = ["&lt;a href='http://evil.example'&gt;neg&lt;/a&gt;", "&lt;b&gt;pos&lt;/b&gt;"]
    assert list(heatmap.x) == escaped and list(heatmap.y) == escaped


def test_run_titles_in_the_comparison_legend_are_drawn_as_typed():
    rows = [
        {"title": "<a href='http://evil.example'>mine</a>", "method": "fast", "accuracy": 0.8},
        {"title": "<b>theirs</b>", "method": "full", "accuracy": 0.7},
    ]
    figure = figures.build_comparison_figure(rows, ("accuracy",))
    assert [trace.name for trace in figure.data] == [
        "&lt;a href='http://evil.example'&gt;mine&lt;/a&gt; (fast mode)",
        "&lt;b&gt;theirs&lt;/b&gt; (full fine-tuning)",
    ]


def test_curves_split_losses_and_scores():
    history = [
        {"step": 1, "epoch": 0.5, "name": "train_loss", "value": 0.7},
        {"step": 2, "epoch": 1.0, "name": "train_loss", "value": 0.5},
        {"step": 2, "epoch": 1.0, "name": "val_accuracy", "value": 0.8},
    ]
    figure = figures.build_curves_figure(history)
    traces = {trace.name: (list(trace.x), list(trace.y)) for trace in figure.data}
    assert traces == {"training loss": ([1, 2], [0.7, 0.5]), "validation accuracy": ([2], [0.8])}


def test_chat_curves_put_losses_left_and_speed_right_and_mark_validation_points():
    from backend.training.chat.report import build_chat_curves_figure

    history = [
        {"step": 1, "epoch": 0.5, "name": "train_loss", "value": 2.1},
        {"step": 2, "epoch": 1.0, "name": "val_loss", "value": 1.9},
        {"step": 2, "epoch": 1.0, "name": "tokens_per_second", "value": 310.0},
    ]
    figure = build_chat_curves_figure(history)
    traces = {trace.name: (trace.xaxis, list(trace.y), trace.mode) for trace in figure.data}
    assert traces == {
        "training loss": ("x", [2.1], "lines"),
        "validation loss": ("x", [1.9], "lines+markers"),
        "tokens/s": ("x2", [310.0], "lines"),
    }
    assert [annotation.text for annotation in figure.layout.annotations] == [
        "Loss (assistant tokens)",
        "Tokens per second",
    ]


def test_mistakes_and_per_class_tables():
    report = _report()
    mistakes = figures.mistakes_table(report)
    assert mistakes.to_dict("records") == [{"text": "c", "true": "pos", "predicted": "neg", "confidence": 0.7311}]
    assert figures.per_class_table(report)["support"].tolist() == [1, 3]


def test_curves_comparisons_and_tables_are_in_the_readers_language():
    from backend.i18n import use_language

    history = [
        {"step": 1, "epoch": 0.5, "name": "train_loss", "value": 0.7},
        {"step": 2, "epoch": 1.0, "name": "val_f1", "value": 0.8},
    ]
    row = {"job": "j1", "title": "评论", "task": "text", "method": "fast", "status": "succeeded", "accuracy": 0.9}
    with use_language("zh"):
        curves = figures.build_curves_figure(history)
        compared = figures.build_comparison_figure([row], ("accuracy",))
        table = figures.comparison_table([row])
        per_class = figures.per_class_table(_report())
    assert [annotation.text for annotation in curves.layout.annotations] == ["损失", "验证指标"]
    assert {trace.name for trace in curves.data} == {"训练损失", "验证宏平均 F1"}
    assert curves.layout.xaxis.title.text == "步数"
    assert compared.data[0].name == "评论 (快速模式)" and list(compared.data[0].x) == ["准确率"]
    assert table.to_dict("records") == [
        {"任务": "j1", "名称": "评论", "任务类型": "文本分类器", "方法": "快速模式", "状态": "已完成", "准确率": 0.9}
    ]
    assert list(per_class.columns) == ["类别", "精确率", "召回率", "F1", "样本量"]
    # The stored rows keep their keys: only what is shown is translated.
    assert row["method"] == "fast" and row["task"] == "text"
