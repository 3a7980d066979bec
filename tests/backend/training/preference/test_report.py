"""The preference report's numbers: shares of held-out pairs with their intervals, and its warnings."""

from __future__ import annotations

import pytest

from backend.training.preference.report import (
    PreferenceReport,
    accuracy_table,
    build_margins_figure,
    build_preference_curves_figure,
    load_preference_report,
    wilson_interval,
)


def _report(base: list[float], tuned: list[float], beta: float = 0.5) -> PreferenceReport:
    return PreferenceReport(beta, base, tuned, 40, 2.0, 100, 1000, "lora", [])


def test_wilson_intervals_match_the_textbook_values():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_preference_and_reward_accuracy_are_counted_per_held_out_pair():
    report = _report(base=[-1.0, 2.0, -3.0, 0.5] * 3, tuned=[1.0, 1.0, -1.0, 0.6] * 3)
    assert report.held_out_pairs == 12
    assert report.preference_accuracy_before == pytest.approx(0.5)
    assert report.preference_accuracy_after == pytest.approx(0.75)
    # beta x (tuned - base): 1.0, -0.5, 1.0, 0.05 -> three of four positive
    assert report.reward_margins[:4] == pytest.approx([1.0, -0.5, 1.0, 0.05])
    assert report.reward_accuracy == pytest.approx(0.75)
    assert report.mean_reward_margin == pytest.approx(0.3875)
    assert report.headline() == {
        "reward_accuracy": 0.75,
        "reward_margin": 0.3875,
        "preference_accuracy_before": 0.5,
        "preference_accuracy": 0.75,
    }
    table = accuracy_table(report)
    assert table["share"].tolist() == pytest.approx([0.5, 0.75, 0.75])
    assert (table["95% low"] < table["share"]).all() and (table["share"] < table["95% high"]).all()


def test_too_few_pairs_and_no_gain_are_warned_about():
    few = _report(base=[-1.0, -2.0], tuned=[1.0, 2.0])
    assert few.too_few_pairs and "Only 2 held-out pair(s)" in few.warnings()[0]
    no_gain = _report(base=[1.0] * 10, tuned=[0.5] * 10)
    assert no_gain.warnings() == [
        "The tuned model does not prefer the chosen replies more often than the base model (100% against 100% of"
        " held-out pairs). Try more pairs, more epochs or a higher learning rate."
    ]
    assert _report(base=[-1.0] * 10, tuned=[1.0] * 10).warnings() == []


def test_a_report_survives_its_file_and_an_unreadable_one_is_none(tmp_path):
    report = _report(base=[-1.0] * 10, tuned=[1.0] * 10)
    report.save(tmp_path)
    assert load_preference_report(tmp_path) == report
    (tmp_path / "preference_report.json").write_text("{not json", encoding="utf-8")
    assert load_preference_report(tmp_path) is None


def test_the_figures_draw_every_pair_and_both_reward_curves():
    report = _report(base=[-1.0, -2.0, -3.0], tuned=[1.0, 0.5, 2.0])
    margins = build_margins_figure(report)
    assert list(margins.data[0].x) == [-1.0, -2.0, -3.0] and list(margins.data[0].y) == [1.0, 0.5, 2.0]
    history = [
        {"name": "train_loss", "step": 1, "epoch": 0.1, "value": 0.69},
        {"name": "reward_accuracy", "step": 1, "epoch": 0.1, "value": 0.5},
        {"name": "val_reward_accuracy", "step": 2, "epoch": 0.2, "value": 0.8},
    ]
    curves = build_preference_curves_figure(history)
    assert sorted(trace.name for trace in curves.data) == ["held-out pairs", "training loss", "training pairs"]
