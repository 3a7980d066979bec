"""The studio's "Preference tuning" screens: pairs from an upload or the arena's votes, mapped and
checked against the base model, DPO parameters, submit; and the finished job's report.

*Check data* keeps the checked pairs in the session under what they were made from (source,
mapping, base model, max length, split); *Start training* submits exactly those, or checks again
when anything changed since. The base model picker and the downloads are chat tuning's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from backend import uploads
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.jobs.manage import JobView
from backend.jobs.store import Job
from backend.text_safety import plain_markdown
from backend.training.chat.params import FULL, LORA
from backend.training.preference import studio
from backend.training.preference.data import (
    PREFERENCE_SUFFIXES,
    PreferenceDataset,
    PreferenceMapping,
    guess_preference_mapping,
    read_preference_upload,
)
from backend.training.preference.params import PreferenceParams
from backend.training.preference.report import (
    accuracy_table,
    build_margins_figure,
    build_preference_curves_figure,
    side_by_side_table,
)
from pages.components import chat_tuning, upload
from pages.components.auth import current_owner
from pages.components.errors import show_error
from pages.components.param_form import FormField

UPLOAD, ARENA = "upload", "arena"
SOURCE_LABELS = {UPLOAD: N_("A file of pairs (JSONL, JSON, CSV, TSV, XLSX)"), ARENA: N_("My arena votes")}
METHOD_LABELS = {
    LORA: N_("LoRA (small adapters on a frozen base; the base is DPO's reference)"),
    FULL: N_("Full fine-tuning (every weight; models up to 600M parameters)"),
}
_PREVIEW_ROWS = 10


@dataclass(frozen=True)
class PairSource:
    """The pairs a form works on: the table, what it was made from (a file's digest, or the votes
    as they were read), and its column mapping."""

    frame: pd.DataFrame
    made_from: str
    mapping: PreferenceMapping


@st.cache_data(show_spinner=False, max_entries=4)
def _read(name: str, digest: str, _data: bytes) -> pd.DataFrame:
    return read_preference_upload(name, _data)


def _from_upload(key: str) -> tuple[pd.DataFrame, str] | None:
    file = upload.show_file_upload(
        f"{key}.file",
        _("Preference pairs"),
        PREFERENCE_SUFFIXES,
        uploads.MAX_TABLE_BYTES,
        help=_(
            "One pair a row: a prompt, the reply people preferred (chosen) and the one they did not (rejected)."
            " Prompts may be text or a list of chat turns; replies text or a list ending with the assistant's turn."
        ),
    )
    if file is None:
        return None
    try:
        return _read(file.name, file.digest, file.data), file.digest
    except InvalidInputError as error:
        show_error(error)
        return None


def _from_arena() -> tuple[pd.DataFrame, str] | None:
    try:
        frame = studio.arena_preference_table(current_owner())
    except InvalidInputError as error:
        show_error(error)
        return None
    # The votes as read now: a new vote makes a new source, so Start checks again.
    return frame, "arena:" + str(pd.util.hash_pandas_object(frame.astype(str), index=False).sum())


def show_source(key: str) -> PairSource | None:
    """Where the pairs come from, a preview and the column mapping; None while missing or refused."""
    source = st.radio(
        _("Pairs from"),
        (UPLOAD, ARENA),
        format_func=lambda s: _(SOURCE_LABELS[s]),
        horizontal=True,
        key=f"{key}.source",
    )
    read = _from_upload(key) if source == UPLOAD else _from_arena()
    if read is None:
        return None
    frame, made_from = read
    st.dataframe(frame.head(_PREVIEW_ROWS).astype(str), hide_index=True, height=220)
    st.caption(_("{rows:,} rows · first {shown} shown").format(rows=len(frame), shown=_PREVIEW_ROWS))
    guessed = guess_preference_mapping(frame)
    # A new file starts from its own guessed columns, not the previous file's choices.
    if st.session_state.get(f"{key}.mapped_from") != made_from:
        for part in ("prompt", "chosen", "rejected"):
            st.session_state.pop(f"{key}.{part}", None)
        st.session_state[f"{key}.mapped_from"] = made_from
    columns = [str(c) for c in frame.columns]
    picked = {}
    for column, (part, label) in zip(
        st.columns(3),
        (("prompt", _("Prompt column")), ("chosen", _("Chosen column")), ("rejected", _("Rejected column"))),
        strict=True,
    ):
        default = getattr(guessed, part)
        picked[part] = column.selectbox(label, columns, index=columns.index(default), key=f"{key}.{part}")
    drop = st.checkbox(_("Drop pairs with a problem instead of refusing them"), key=f"{key}.drop")
    return PairSource(frame, made_from, PreferenceMapping(**picked, drop_bad_rows=bool(drop)))


# Chat tuning's fields (bounds from PREFERENCE_PARAM_RANGES, defaults from PreferenceParams.defaults),
# with DPO's beta after the learning rate and the pairs' own words for max length and the held-out share.
_BETA = FormField(
    "beta", N_("Beta"), help=N_("How far the tuned model may move from the base: higher keeps it closer.")
)
_OWN_WORDS = {
    "max_length": FormField(
        "max_length",
        N_("Max length (tokens)"),
        help=N_("Prompt plus reply; longer pairs lose the end of their replies. Check data says how many."),
    ),
    "validation_fraction": FormField("validation_fraction", N_("Held-out share"), key="validation"),
}
PARAM_FIELDS = tuple(
    shown
    for field in chat_tuning.PARAM_FIELDS
    for shown in ((field, _BETA) if field.name == "learning_rate" else (_OWN_WORDS.get(field.name, field),))
)


def pick_parameters(base_model: str, key: str) -> PreferenceParams:
    """Method, title and hyperparameters with defaults that work; validated on submit."""
    return chat_tuning.pick_tuning_parameters(
        PreferenceParams, PARAM_FIELDS, METHOD_LABELS, base_model, key, _("e.g. Support assistant, house style")
    )


def show_data_summary(dataset: PreferenceDataset) -> None:
    """What the checks found: sizes, token lengths, cut and dropped pairs, warnings."""
    summary = dataset.summary
    st.success(
        _("Data looks usable: {train} training and {held_out} held-out pairs ({source}).").format(
            train=summary["train_size"], held_out=summary["validation_size"], source=summary["validation_source"]
        ),
        icon=":material/fact_check:",
    )
    columns = st.columns(4)
    columns[0].metric(_("Median tokens"), f"{summary['tokens_median']:,}")
    columns[1].metric(_("Longest"), f"{summary['tokens_max']:,}")
    columns[2].metric(_("Cut at {limit}").format(limit=summary["max_length"]), f"{summary['cut_rows']:,}")
    columns[3].metric(_("Dropped (prompt too long)"), f"{summary['dropped_rows']:,}")
    for warning in dataset.warnings:
        st.warning(plain_markdown(warning), icon=":material/warning:")


def show_progress_chart(view: JobView) -> None:
    """DPO loss, and reward accuracy on training and held-out pairs."""
    chat_tuning.show_curves(view, build_preference_curves_figure, "preference")


def show_report(view: JobView) -> None:
    """Reward accuracy and margins on held-out pairs, and base vs tuned replies side by side."""
    report = studio.load_report(view.job)
    if not chat_tuning.show_report_warnings(report):
        return
    if not report.too_few_pairs:  # too few held-out pairs: no headline to mislead with
        columns = st.columns(3)
        columns[0].metric(
            _("Prefers the chosen reply"),
            f"{report.preference_accuracy_after:.0%}",
            delta=f"{(report.preference_accuracy_after - report.preference_accuracy_before) * 100:+.0f} pp",
        )
        columns[1].metric(_("Reward accuracy"), f"{report.reward_accuracy:.0%}")
        columns[2].metric(_("Mean reward margin"), f"{report.mean_reward_margin:.3f}")
    st.caption(
        _("On {held_out} held-out pairs (beta {beta}); trained on {train} pairs, {trainable:,} of {total:,} parameters."
          " Intervals are 95% Wilson intervals.").format(
            held_out=report.held_out_pairs, beta=report.beta, train=report.train_pairs,
            trainable=report.trainable_parameters, total=report.total_parameters,
        )
    )  # fmt: skip
    left, right = st.columns(2)
    shares = accuracy_table(report)
    percent = st.column_config.NumberColumn(format="percent")
    left.dataframe(shares, hide_index=True, column_config={c: percent for c in shares.columns[1:]})
    right.plotly_chart(
        build_margins_figure(report), key=f"finetune.preference_margins.{view.job.id}", config={"displayModeBar": False}
    )
    chat_tuning.show_side_by_side(side_by_side_table(report))


def show_new_job_form(key: str) -> Job | None:
    """Pairs, base model, parameters, *Check data* and *Start training*; returns the job it queued,
    if any (errors are shown)."""
    source = show_source(key)
    params = pick_parameters(chat_tuning.pick_base_model(key), key)
    owner = current_owner()
    return chat_tuning.show_tuning_job_form(
        key,
        params,
        None if source is None else (source.made_from, source.mapping),
        lambda: studio.check_preference_data(source.frame, source.mapping, params, owner),
        show_data_summary,
        lambda dataset: studio.submit_preference_job(params, dataset, owner=owner),
        (_("Upload preference pairs to continue."), _("Checking the pairs against the base model…")),
    )
