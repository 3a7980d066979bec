"""The report of a preference-tuning run: on held-out pairs, how often the base and the tuned model
prefer the chosen reply, DPO's reward accuracy and margins, and the base and tuned replies to
held-out prompts side by side; plus its figures (no Streamlit here).

The numbers, for each held-out pair (log-probabilities of a whole reply given its prompt):

- *preference margin* of a model: log p(chosen) - log p(rejected); the model prefers the chosen
  reply when it is positive. Its share of positive margins is the *preference accuracy*, measured
  for the base model (before) and the tuned one (after).
- *reward margin* (DPO's implicit reward): beta x (tuned margin - base margin); positive when tuning
  moved the model towards the chosen reply. Its share of positive values is the *reward accuracy*
  trl reports (0 before training by definition, so it has no "before").

Each share comes with a 95% Wilson interval, since held-out sets are small; the report is not
headlined on fewer than ``MIN_HELD_OUT_PAIRS_TO_JUDGE`` pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import plotly.graph_objects as go

from backend.i18n import N_, _
from backend.training.common import SavedReport, read_json_report
from backend.training.figures import LOSS_CURVES, build_step_curves

PREFERENCE_REPORT_FILE = "preference_report.json"
# Below this many held-out pairs, an accuracy is a handful of coin flips.
MIN_HELD_OUT_PAIRS_TO_JUDGE = 10
_Z95 = 1.959964


def wilson_interval(successes: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a share (0-1), (0, 1) without observations."""
    if total <= 0:
        return 0.0, 1.0
    share = successes / total
    spread = _Z95 * math.sqrt(share * (1 - share) / total + _Z95**2 / (4 * total**2))
    centre = share + _Z95**2 / (2 * total)
    scale = 1 + _Z95**2 / total
    return round(max(0.0, (centre - spread) / scale), 4), round(min(1.0, (centre + spread) / scale), 4)


@dataclass
class PreferenceReport(SavedReport):
    """Everything the results screen and the model card show.

    ``base_margins`` and ``tuned_margins`` are each held-out pair's preference margin (log p(chosen)
    - log p(rejected)) under the base and the tuned model, in the held-out order.
    """

    report_file: ClassVar[str] = PREFERENCE_REPORT_FILE

    beta: float
    base_margins: list[float]
    tuned_margins: list[float]
    train_pairs: int
    pairs_per_second: float
    trainable_parameters: int
    total_parameters: int
    method: str
    side_by_side: list[dict[str, str]] = field(default_factory=list)

    @property
    def held_out_pairs(self) -> int:
        """How many held-out pairs the numbers are measured on."""
        return len(self.base_margins)

    @property
    def reward_margins(self) -> list[float]:
        """DPO's implicit reward margin of each held-out pair: beta x (tuned - base margin)."""
        return [self.beta * (t - b) for b, t in zip(self.base_margins, self.tuned_margins, strict=True)]

    def _share(self, values: list[float]) -> float:
        return sum(v > 0 for v in values) / len(values) if values else 0.0

    @property
    def preference_accuracy_before(self) -> float:
        """Share of held-out pairs whose chosen reply the base model finds likelier."""
        return self._share(self.base_margins)

    @property
    def preference_accuracy_after(self) -> float:
        """Share of held-out pairs whose chosen reply the tuned model finds likelier."""
        return self._share(self.tuned_margins)

    @property
    def reward_accuracy(self) -> float:
        """Share of held-out pairs whose reward margin is positive (tuning moved towards chosen)."""
        return self._share(self.reward_margins)

    @property
    def mean_reward_margin(self) -> float:
        """The mean reward margin over the held-out pairs."""
        margins = self.reward_margins
        return sum(margins) / len(margins) if margins else 0.0

    def interval(self, share: float) -> tuple[float, float]:
        """The 95% interval of a share measured on the held-out pairs."""
        return wilson_interval(round(share * self.held_out_pairs), self.held_out_pairs)

    @property
    def too_few_pairs(self) -> bool:
        """Whether there are too few held-out pairs to headline anything."""
        return self.held_out_pairs < MIN_HELD_OUT_PAIRS_TO_JUDGE

    def warnings(self) -> list[str]:
        """What a reader must know before trusting the numbers, in the order to show them."""
        found = []
        if self.too_few_pairs:
            found.append(
                _("Only {count} held-out pair(s): at least {least} are needed to judge this tuning, and the"
                  " intervals below are wide. Upload more pairs or raise the held-out share, and tune"
                  " again.").format(count=self.held_out_pairs, least=MIN_HELD_OUT_PAIRS_TO_JUDGE)
            )  # fmt: skip
        if self.held_out_pairs and self.preference_accuracy_after <= self.preference_accuracy_before:
            found.append(
                _("The tuned model does not prefer the chosen replies more often than the base model"
                  " ({after:.0%} against {before:.0%} of held-out pairs). Try more pairs, more epochs or a"
                  " higher learning rate.").format(
                    after=self.preference_accuracy_after, before=self.preference_accuracy_before
                )
            )  # fmt: skip
        return found

    def headline(self) -> dict[str, float]:
        """What the job's metrics and the model manifest keep."""
        return {
            "reward_accuracy": round(self.reward_accuracy, 4),
            "reward_margin": round(self.mean_reward_margin, 4),
            "preference_accuracy_before": round(self.preference_accuracy_before, 4),
            "preference_accuracy": round(self.preference_accuracy_after, 4),
        }


def load_preference_report(run_dir: Path) -> PreferenceReport | None:
    """The report in a run folder, or None when there is none (or it is unreadable)."""
    return read_json_report(run_dir / PREFERENCE_REPORT_FILE, PreferenceReport.from_dict)


# The table's measures, marked for translation where they are shown.
_ACCURACY_ROWS = (
    (N_("Prefers the chosen reply (base model)"), "preference_accuracy_before"),
    (N_("Prefers the chosen reply (tuned model)"), "preference_accuracy_after"),
    (N_("Reward accuracy (tuned against base)"), "reward_accuracy"),
)


def accuracy_table(report: PreferenceReport) -> pd.DataFrame:
    """The held-out shares with their 95% intervals, one row per measure."""
    rows = []
    for label, name in _ACCURACY_ROWS:
        share = getattr(report, name)
        low, high = report.interval(share)
        rows.append({_("measure"): _(label), _("share"): share, _("95% low"): low, _("95% high"): high})
    return pd.DataFrame(rows)


def side_by_side_table(report: PreferenceReport) -> pd.DataFrame:
    """Held-out prompts with the chosen reply and the base and tuned replies (in that order)."""
    columns = ["prompt", "reference", "base", "tuned"]
    frame = pd.DataFrame([{c: row.get(c, "") for c in columns} for row in report.side_by_side], columns=columns)
    return frame.rename(columns={"reference": "chosen"})


def build_margins_figure(report: PreferenceReport) -> go.Figure:
    """Each held-out pair's preference margin under the base (x) and the tuned model (y): points
    above the diagonal moved towards the chosen reply."""
    figure = go.Figure()
    figure.add_scatter(
        x=report.base_margins, y=report.tuned_margins, mode="markers", name=_("held-out pair"), marker={"size": 8}
    )
    values = report.base_margins + report.tuned_margins or [0.0]
    low, high = min(values), max(values)
    figure.add_scatter(x=[low, high], y=[low, high], mode="lines", name=_("no change"), line={"dash": "dot"})
    figure.update_layout(
        xaxis_title=_("base model: log p(chosen) - log p(rejected)"),
        yaxis_title=_("tuned model: log p(chosen) - log p(rejected)"),
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def build_preference_curves_figure(history: list[dict[str, Any]]) -> go.Figure:
    """DPO loss (left) and reward accuracy on training and held-out pairs (right) by step."""
    return build_step_curves(
        history,
        (
            (_("DPO loss"), LOSS_CURVES),
            (
                _("Reward accuracy"),
                {"reward_accuracy": _("training pairs"), "val_reward_accuracy": _("held-out pairs")},
            ),
        ),
    )
