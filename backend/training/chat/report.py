"""The report of a chat-tuning run: validation loss and perplexity before and after, and the base
and tuned replies to held-out prompts side by side; plus its figures (no Streamlit here).

A report that cannot mislead: it is not headlined on fewer than ``MIN_HELD_OUT_PROMPTS`` held-out
prompts (``warnings`` says the validation set is too small and how to fix that), and it flags a
held-out loss that improved while the replies got worse. Replies are judged by ``reply_overlap``
with the reference reply of the held-out conversation (a word- and character-level F1: cheap,
model-free, and blind to paraphrase, so it is a warning sign rather than a grade).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import plotly.graph_objects as go

from backend.i18n import _
from backend.training.common import SavedReport, read_json_report
from backend.training.figures import LOSS_CURVES, build_step_curves

CHAT_REPORT_FILE = "chat_report.json"
# Below this many held-out prompts, a loss or a reply comparison is one or two samples of noise.
MIN_HELD_OUT_PROMPTS = 5
# A word of a space-separated script, or one CJK character (those scripts have no spaces).
_UNITS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W_]+", re.UNICODE)


def reply_overlap(reply: str, reference: str) -> float:
    """F1 of the words (CJK: characters) a reply shares with the reference reply, 0-1."""
    got, want = Counter(_UNITS.findall(reply.lower())), Counter(_UNITS.findall(reference.lower()))
    shared = sum((got & want).values())
    if not shared:
        return 0.0
    precision, recall = shared / sum(got.values()), shared / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def perplexity(loss: float) -> float:
    """exp(loss), capped so a diverged run reports a large number rather than infinity."""
    return round(math.exp(min(loss, 50.0)), 3)


@dataclass
class ChatReport(SavedReport):
    """Everything the results screen and the model card show."""

    report_file: ClassVar[str] = CHAT_REPORT_FILE

    val_loss_before: float
    val_loss_after: float
    validation_conversations: int
    train_conversations: int
    train_tokens: int
    tokens_per_second: float
    trainable_parameters: int
    total_parameters: int
    method: str
    side_by_side: list[dict[str, str]] = field(default_factory=list)
    # The system prompt most training conversations carry ("" for none): the demo starts from it.
    system_prompt: str = ""

    @property
    def perplexity_before(self) -> float:
        """Validation perplexity of the base model (on assistant tokens)."""
        return perplexity(self.val_loss_before)

    @property
    def perplexity_after(self) -> float:
        """Validation perplexity of the tuned model."""
        return perplexity(self.val_loss_after)

    @property
    def too_few_prompts(self) -> bool:
        """Whether there are too few held-out prompts to headline anything."""
        return len(self.side_by_side) < MIN_HELD_OUT_PROMPTS

    def reply_scores(self) -> tuple[float, float] | None:
        """Mean ``reply_overlap`` of the base and of the tuned replies with the references
        (None without held-out prompts)."""
        rows = [row for row in self.side_by_side if row.get("reference", "").strip()]
        if not rows:
            return None
        base = sum(reply_overlap(row.get("base", ""), row["reference"]) for row in rows) / len(rows)
        tuned = sum(reply_overlap(row.get("tuned", ""), row["reference"]) for row in rows) / len(rows)
        return round(base, 3), round(tuned, 3)

    def warnings(self) -> list[str]:
        """What a reader must know before trusting the numbers, in the order to show them."""
        found = []
        if self.too_few_prompts:
            found.append(
                _(
                    "The validation set is too small to judge this tuning: {prompts} held-out prompt(s) from"
                    " {conversations} held-out conversation(s); at least {least} are needed. Upload more"
                    " conversations, raise the validation share or the held-out prompts in the report, and tune again."
                ).format(
                    prompts=len(self.side_by_side),
                    conversations=self.validation_conversations,
                    least=MIN_HELD_OUT_PROMPTS,
                )
            )
        scores = self.reply_scores()
        if scores is not None and self.val_loss_after < self.val_loss_before and scores[1] < scores[0]:
            found.append(
                _(
                    "The held-out loss improved, but the tuned replies are judged worse than the base model's: they"
                    " share {tuned:.0%} of the reference replies' words against the base's {base:.0%} (word overlap,"
                    " characters for Chinese). Read the replies below before using this model."
                ).format(tuned=scores[1], base=scores[0])
            )
        return found

    def headline(self) -> dict[str, float]:
        """What the job's metrics and the model manifest keep."""
        return {
            "val_loss_before": round(self.val_loss_before, 4),
            "val_loss": round(self.val_loss_after, 4),
            "perplexity_before": self.perplexity_before,
            "perplexity": self.perplexity_after,
        }


def load_chat_report(run_dir: Path) -> ChatReport | None:
    """The report in a run folder, or None when there is none (or it is unreadable)."""
    return read_json_report(run_dir / CHAT_REPORT_FILE, ChatReport.from_dict)


def side_by_side_table(report: ChatReport) -> pd.DataFrame:
    """Held-out prompts with the reference, base and tuned replies (columns in that order)."""
    columns = ["prompt", "reference", "base", "tuned"]
    return pd.DataFrame([{c: row.get(c, "") for c in columns} for row in report.side_by_side], columns=columns)


def build_chat_curves_figure(history: list[dict[str, Any]]) -> go.Figure:
    """Training and validation loss (left) and training speed in tokens/s (right) by step."""
    return build_step_curves(
        history,
        ((_("Loss (assistant tokens)"), LOSS_CURVES), (_("Tokens per second"), {"tokens_per_second": _("tokens/s")})),
    )
