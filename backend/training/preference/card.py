"""The model card (README.md) written beside a preference-tuned model and its adapter.

Escaped as the chat card is (``backend.training.chat.card``): no user's or model's text grows links,
images or HTML.
"""

from __future__ import annotations

from backend.i18n import _
from backend.text_safety import plain_markdown
from backend.training.chat.card import chat_model_card, tuning_method
from backend.training.preference.data import PreferenceDataset
from backend.training.preference.params import PreferenceParams
from backend.training.preference.report import PreferenceReport


def _share(report: PreferenceReport, share: float) -> str:
    low, high = report.interval(share)
    return f"{share:.0%} (95% {low:.0%}–{high:.0%})"


def build_preference_card(
    params: PreferenceParams,
    dataset: PreferenceDataset,
    report: PreferenceReport,
    created: str,
    device: str,
    base_name: str,
) -> str:
    """Markdown describing how the model was preference-tuned and what changed (the arguments are
    ``build_chat_card``'s)."""
    intro = _(
        "Chat model tuned from {base} with DPO (trl) and {method}, created {created} on {device} by the Large Model"
        " Showcase fine-tuning studio."
    ).format(base=plain_markdown(base_name), method=tuning_method(params), created=created, device=device)
    pairs = _("Preference pairs: {train} for training, {held_out} held out").format(
        train=report.train_pairs, held_out=report.held_out_pairs
    )
    held_out_rows = "\n".join(
        f"| {label} | {value} |"
        for label, value in (
            (_("prefers the chosen reply, base model"), _share(report, report.preference_accuracy_before)),
            (_("prefers the chosen reply, tuned model"), _share(report, report.preference_accuracy_after)),
            (_("reward accuracy"), _share(report, report.reward_accuracy)),
            (_("mean reward margin"), f"{report.mean_reward_margin:.3f}"),
        )
    )
    limits = _(
        "The held-out pairs are drawn from the same data as the training pairs; expect the preference to hold"
        " less well on different prompts."
    )
    return chat_model_card(
        params,
        report,
        dataset.warnings,
        base_name,
        tags="chat, dpo",
        untitled=_("Preference-tuned chat model"),
        intro=intro,
        data=[pairs],
        results=(_("Held-out pairs"), "| | |\n|---|---|\n" + held_out_rows),
        reply_columns=[("prompt", _("prompt")), ("reference", _("chosen")), ("base", _("base")), ("tuned", _("tuned"))],
        closing=[(_("Limits"), limits)],
    )
