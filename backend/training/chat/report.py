"""The report of a chat-tuning run: validation loss and perplexity before and after, and the base
and tuned replies to held-out prompts side by side; plus its figures (no Streamlit here).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from backend.training.figures import LOSS_CURVES, build_step_curves

CHAT_REPORT_FILE = "chat_report.json"


def perplexity(loss: float) -> float:
    """exp(loss), capped so a diverged run reports a large number rather than infinity."""
    return round(math.exp(min(loss, 50.0)), 3)


@dataclass
class ChatReport:
    """Everything the results screen and the model card show."""

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

    @property
    def perplexity_before(self) -> float:
        """Validation perplexity of the base model (on assistant tokens)."""
        return perplexity(self.val_loss_before)

    @property
    def perplexity_after(self) -> float:
        """Validation perplexity of the tuned model."""
        return perplexity(self.val_loss_after)

    def headline(self) -> dict[str, float]:
        """What the job's metrics and the model manifest keep."""
        return {
            "val_loss_before": round(self.val_loss_before, 4),
            "val_loss": round(self.val_loss_after, 4),
            "perplexity_before": self.perplexity_before,
            "perplexity": self.perplexity_after,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatReport:
        """Inverse of ``to_dict`` (unknown keys ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, folder: Path) -> Path:
        """Write ``chat_report.json``."""
        path = folder / CHAT_REPORT_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path


def load_chat_report(run_dir: Path) -> ChatReport | None:
    """The report in a run folder, or None when there is none (or it is unreadable)."""
    path = run_dir / CHAT_REPORT_FILE
    if not path.is_file():
        return None
    try:
        return ChatReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def side_by_side_table(report: ChatReport) -> pd.DataFrame:
    """Held-out prompts with the reference, base and tuned replies (columns in that order)."""
    columns = ["prompt", "reference", "base", "tuned"]
    return pd.DataFrame([{c: row.get(c, "") for c in columns} for row in report.side_by_side], columns=columns)


def build_chat_curves_figure(history: list[dict[str, Any]]) -> go.Figure:
    """Training and validation loss (left) and training speed in tokens/s (right) by step."""
    return build_step_curves(
        history, (("Loss (assistant tokens)", LOSS_CURVES), ("Tokens per second", {"tokens_per_second": "tokens/s"}))
    )
