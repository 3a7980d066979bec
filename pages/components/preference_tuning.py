"""The studio's "Preference tuning" screens: pairs from an upload or the arena's votes, mapped and
checked against the base model, DPO parameters, submit; and the finished job's report.

*Check data* keeps the checked pairs in the session under what they were made from (source,
mapping, base model, max length, split); *Start training* submits exactly those, or checks again
when anything changed since. The base model picker and the downloads are chat tuning's own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st

from backend import uploads
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.jobs.manage import JobView
from backend.jobs.store import Job
from backend.text_safety import plain_markdown
from backend.training.chat.params import ALL_LINEAR, CHAT_PRECISIONS, FULL, LORA
from backend.training.preference import studio
from backend.training.preference.data import (
    PREFERENCE_SUFFIXES,
    PreferenceDataset,
    PreferenceMapping,
    guess_preference_mapping,
    read_preference_upload,
)
from backend.training.preference.params import (
    PREFERENCE_METHODS,
    PREFERENCE_PARAM_RANGES,
    PreferenceParams,
    default_preference_params,
)
from backend.training.preference.report import (
    accuracy_table,
    build_margins_figure,
    build_preference_curves_figure,
    side_by_side_table,
)
from pages.components import chat_tuning, checked_data, models, upload
from pages.components.auth import current_owner
from pages.components.errors import show_error, user_errors
from pages.components.param_form import FormField, show_param_form

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


_LORA_ONLY = ("lora_rank", "lora_alpha", "lora_dropout", "target_modules")
# Each preference-tuning parameter once; bounds from PREFERENCE_PARAM_RANGES, defaults from
# default_preference_params.
PARAM_FIELDS = (
    FormField("epochs", N_("Epochs")),
    FormField("learning_rate", N_("Learning rate"), key="lr", by_method=True, number_format="%.0e"),
    FormField("beta", N_("Beta"), help=N_("How far the tuned model may move from the base: higher keeps it closer.")),
    FormField("batch_size", N_("Batch size"), key="batch", help=N_("Halved on GPU out-of-memory.")),
    FormField(
        "max_length",
        N_("Max length (tokens)"),
        help=N_("Prompt plus reply; longer pairs lose the end of their replies. Check data says how many."),
    ),
    FormField("validation_fraction", N_("Held-out share"), key="validation"),
    FormField("precision", N_("Precision"), choices=CHAT_PRECISIONS),
    FormField("lora_rank", N_("LoRA rank"), key="rank"),
    FormField("lora_alpha", N_("LoRA alpha"), key="alpha"),
    FormField("lora_dropout", N_("LoRA dropout"), key="dropout"),
    FormField("target_modules", N_("Target modules"), key="modules", text=True),
    FormField("report_prompts", N_("Held-out prompts in the report"), key="prompts"),
    FormField("seed", N_("Seed")),
)


def _translated(fields: tuple[FormField, ...]) -> list[FormField]:
    return [replace(f, label=_(f.label), help=_(f.help) if f.help else None) for f in fields]


def pick_parameters(base_model: str, key: str) -> PreferenceParams:
    """Method, title and hyperparameters with defaults that work; validated on submit."""
    method = st.radio(_("Method"), PREFERENCE_METHODS, format_func=lambda m: _(METHOD_LABELS[m]), key=f"{key}.method")
    params = show_param_form(
        _translated(PARAM_FIELDS),
        PREFERENCE_PARAM_RANGES,
        default_preference_params(base_model, method),
        key,
        method,
        _("e.g. Support assistant, house style"),
        disabled=_LORA_ONLY if method == FULL else (),
    )
    return replace(params, target_modules=params.target_modules.strip() or ALL_LINEAR)


def _made_from(source: PairSource, params: PreferenceParams) -> tuple[object, ...]:
    # Everything the checked pairs depend on: the tokenizer's model, the cut and the split.
    return (
        source.made_from,
        source.mapping,
        params.base_model,
        params.max_length,
        params.validation_fraction,
        params.seed,
    )


def check_data(source: PairSource, params: PreferenceParams, key: str) -> PreferenceDataset:
    """Check the pairs against the base model (raises ShowcaseError); remembered for Start."""
    dataset = studio.check_preference_data(source.frame, source.mapping, params, current_owner())
    checked_data.remember(key, _made_from(source, params), dataset)
    return dataset


def checked_dataset(source: PairSource, params: PreferenceParams, key: str) -> PreferenceDataset:
    """What *Check data* made from exactly this source and these settings, else a new check."""
    dataset: PreferenceDataset | None = checked_data.recall(key, _made_from(source, params))
    return dataset if dataset is not None else check_data(source, params, key)


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
    if view.history:
        st.plotly_chart(
            build_preference_curves_figure(view.history),
            key=f"finetune.preference_curves.{view.job.id}",
            config={"displayModeBar": False},
        )


def show_report(view: JobView) -> None:
    """Reward accuracy and margins on held-out pairs, and base vs tuned replies side by side."""
    report = studio.load_report(view.job)
    if report is None:
        st.warning(_("This job has no report."), icon=":material/warning:")
        return
    for warning in report.warnings():
        st.warning(warning, icon=":material/warning:")
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
    st.markdown("**" + _("Held-out prompts: base vs tuned (greedy replies)") + "**")
    table = side_by_side_table(report)
    if table.empty:
        st.caption(_("No held-out prompts were answered (set them in the hyperparameters)."))
    else:
        st.dataframe(table, hide_index=True, column_config={c: st.column_config.TextColumn(c) for c in table.columns})


def show_new_job_form(key: str) -> Job | None:
    """Pairs, base model, parameters, *Check data* and *Start training*; returns the job it queued,
    if any (errors are shown)."""
    source = show_source(key)
    params = pick_parameters(chat_tuning.pick_base_model(key), key)
    check, start = checked_data.show_check_and_start(key, source is not None, _("Upload preference pairs to continue."))
    if check:
        # The base model's tokenizer formats every pair; its weights are not read.
        with user_errors(), st.spinner(_("Checking the pairs against the base model…")):
            show_data_summary(check_data(source, params, key))
            models.show_base_availability(params.base_model)
    if start:
        with user_errors(), st.spinner(_("Checking the data and queuing the job…")):
            return studio.submit_preference_job(params, checked_dataset(source, params, key), owner=current_owner())
    return None
