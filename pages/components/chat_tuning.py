"""The studio's "Chat model" screens: upload conversations, map them, check them against the base
model, pick LoRA or full tuning, submit; and the finished job's report, downloads and demo link.

*Check data* keeps the checked conversations in the session under what they were made from
(upload, mapping, base model, max length, split); *Start training* submits exactly those, or
checks again when anything changed since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from backend import uploads
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.jobs.manage import JobView
from backend.jobs.store import Job
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from backend.training import export
from backend.training.chat import studio as chat_studio
from backend.training.chat.data import (
    CHAT_SUFFIXES,
    SHAPE_LABELS,
    SHAPES,
    TABLE,
    ChatDataset,
    ChatMapping,
    ChatUpload,
    guess_mapping,
    read_chat_upload,
)
from backend.training.chat.params import ALL_LINEAR, CHAT_PRECISIONS, FULL, LORA, ChatModelParams, ChatTuneParams
from backend.training.chat.report import build_chat_curves_figure, side_by_side_table
from pages.components import checked_data, models, upload
from pages.components.auth import current_owner
from pages.components.errors import show_error, user_errors
from pages.components.param_form import FormField, show_param_form

METHOD_LABELS = {
    LORA: N_("LoRA (small adapters on a frozen base; minutes on a CPU for the smallest model)"),
    FULL: N_("Full fine-tuning (every weight; models up to 600M parameters)"),
}
# An option value (stable across languages); shown translated.
LOCAL_FOLDER = N_("Local folder…")
# An option value that no column can take; shown translated.
_NO_SYSTEM = N_("(none)")
_PREVIEW_ROWS = 10
TuningParams = TypeVar("TuningParams", bound=ChatModelParams)
TuningDataset = TypeVar("TuningDataset")


@st.cache_data(show_spinner=False, max_entries=4)
def _read(name: str, digest: str, _data: bytes) -> ChatUpload:
    return read_chat_upload(name, _data)


def show_upload(key: str) -> tuple[ChatUpload, str, ChatMapping] | None:
    """The conversations upload, a preview and the explicit mapping; None while missing or refused."""
    file = upload.show_file_upload(
        f"{key}.file",
        _("Conversations"),
        CHAT_SUFFIXES,
        uploads.MAX_TABLE_BYTES,
        help=_(
            "JSONL with messages (role/content), ShareGPT (conversations: from/value) or Alpaca"
            " (instruction/input/output), or a table with prompt and response columns (system optional)."
        ),
    )
    if file is None:
        return None
    try:
        chat_upload = _read(file.name, file.digest, file.data)
    except InvalidInputError as error:
        show_error(error)
        return None
    st.dataframe(chat_upload.table().head(_PREVIEW_ROWS).astype(str), hide_index=True, height=220)
    st.caption(
        _("{chat_upload:,} rows · first {PREVIEW_ROWS} shown").format(
            chat_upload=len(chat_upload), PREVIEW_ROWS=_PREVIEW_ROWS
        )
    )
    guessed = guess_mapping(chat_upload)
    # A new file starts from its own guessed shape and columns, not the previous file's choices.
    if st.session_state.get(f"{key}.mapped_file") != file.digest:
        for part in ("shape", "prompt", "response", "system"):
            st.session_state.pop(f"{key}.{part}", None)
        st.session_state[f"{key}.mapped_file"] = file.digest
    shape = st.selectbox(
        _("Data shape"),
        SHAPES,
        index=SHAPES.index(guessed.shape),
        format_func=SHAPE_LABELS.get,
        key=f"{key}.shape",
        help=_("Guessed from the file; change it if the guess is wrong."),
    )
    prompt = response = system = ""
    if shape == TABLE:
        columns = chat_upload.columns
        left, middle, right = st.columns(3)
        prompt = left.selectbox(
            _("Prompt column"), columns, index=columns.index(guessed.prompt or columns[0]), key=f"{key}.prompt"
        )
        response_default = guessed.response if guessed.response in columns else columns[-1]
        response = middle.selectbox(
            _("Response column"), columns, index=columns.index(response_default), key=f"{key}.response"
        )
        options = [_NO_SYSTEM, *columns]
        chosen = right.selectbox(
            _("System column"),
            options,
            index=options.index(guessed.system) if guessed.system in options else 0,
            format_func=lambda option: _(option) if option == _NO_SYSTEM else option,
            key=f"{key}.system",
        )
        system = "" if chosen == _NO_SYSTEM else chosen
    drop = st.checkbox(_("Drop conversations with a problem instead of refusing the file"), key=f"{key}.drop")
    return chat_upload, file.digest, ChatMapping(shape, str(prompt), str(response), str(system), bool(drop))


def pick_base_model(key: str) -> str:
    """A catalogue chat model (the smallest first: it tunes on a CPU), or a folder typed by the user."""
    specs = sorted(catalogue.models_for(catalogue.TEXT_GENERATION), key=lambda spec: spec.params_millions)
    choices = [spec.hub_id for spec in specs] + [LOCAL_FOLDER]
    found = models.availability_of(choices[:-1], bases=True)

    def describe(hub_id: str) -> str:
        spec = catalogue.find_spec(hub_id, catalogue.TEXT_GENERATION)
        mark = f" · {_(found[hub_id].mark)}" if hub_id in found else ""  # first: narrow screens cut the end
        if spec is None:
            return _(hub_id) if hub_id == LOCAL_FOLDER else hub_id
        parameters = _("{millions:,.0f}M parameters").format(millions=spec.params_millions)
        return f"{spec.title}{mark} · {hub_id} · {parameters}"

    models.warn_when_none_available(found, _("chat models"))
    index = models.opening_choice(choices, found, f"{key}.base")
    choice = st.selectbox(_("Base chat model"), choices, index=index, format_func=describe, key=f"{key}.base")
    if choice != LOCAL_FOLDER:
        return choice
    folder = st.text_input(
        _("Model folder"),
        key=f"{key}.base_folder",
        placeholder=_("a chat model folder inside the models folder"),
        help=_("It needs a chat template. Folders outside the models or runs folder are refused."),
    )
    return folder.strip()


_LORA_ONLY = ("lora_rank", "lora_alpha", "lora_dropout", "target_modules")
# Each chat-tuning parameter once; bounds from CHAT_PARAM_RANGES, defaults from ChatTuneParams.defaults.
PARAM_FIELDS = (
    FormField("epochs", N_("Epochs")),
    FormField("learning_rate", N_("Learning rate"), key="lr", by_method=True, number_format="%.0e"),
    FormField("batch_size", N_("Batch size"), key="batch", help=N_("Halved on GPU out-of-memory.")),
    FormField(
        "max_length",
        N_("Max length (tokens)"),
        help=N_("Longer conversations are cut at the end; Check data says how many."),
    ),
    FormField("validation_fraction", N_("Validation share"), key="validation"),
    FormField(
        "precision",
        N_("Precision"),
        choices=CHAT_PRECISIONS,
        help=N_("auto: bf16 mixed precision on a GPU, float32 on a CPU; bf16 on a CPU with bf16 units is faster."),
    ),
    FormField("lora_rank", N_("LoRA rank"), key="rank"),
    FormField("lora_alpha", N_("LoRA alpha"), key="alpha"),
    FormField("lora_dropout", N_("LoRA dropout"), key="dropout"),
    FormField(
        "target_modules",
        N_("Target modules"),
        key="modules",
        text=True,
        help=N_("all-linear, or names such as q_proj,k_proj,v_proj,o_proj."),
    ),
    FormField("report_prompts", N_("Held-out prompts in the report"), key="prompts"),
    FormField("seed", N_("Seed")),
)


def pick_tuning_parameters(
    params_class: type[TuningParams],
    fields: tuple[FormField, ...],
    method_labels: dict[str, str],
    base_model: str,
    key: str,
    title_placeholder: str,
) -> TuningParams:
    """Method, title and hyperparameters of a kind that tunes a chat model (chat and preference
    tuning), with its defaults that work (``params_class.defaults``); validated on submit."""
    method = st.radio(
        _("Method"), params_class.methods, format_func=lambda method: _(method_labels[method]), key=f"{key}.method"
    )
    params = show_param_form(
        fields,
        params_class.ranges,
        params_class.defaults(base_model, method),
        key,
        method,
        title_placeholder,
        disabled=_LORA_ONLY if method == FULL else (),
    )
    return replace(params, target_modules=params.target_modules.strip() or ALL_LINEAR)


def pick_parameters(base_model: str, key: str) -> ChatTuneParams:
    """Method, title and hyperparameters with defaults that work; validated on submit."""
    return pick_tuning_parameters(
        ChatTuneParams, PARAM_FIELDS, METHOD_LABELS, base_model, key, _("e.g. Support assistant")
    )


def show_data_summary(dataset: ChatDataset) -> None:
    """What the checks found: sizes, token lengths, cut rows, warnings, one formatted example."""
    summary = dataset.summary
    st.success(
        _(
            "Data looks usable: {train_size} training and {validation_size} validation conversations "
            "({validation_source})."
        ).format(
            train_size=summary["train_size"],
            validation_size=summary["validation_size"],
            validation_source=summary["validation_source"],
        ),
        icon=":material/fact_check:",
    )
    columns = st.columns(4)
    columns[0].metric(_("Median tokens"), f"{summary['tokens_median']:,}")
    columns[1].metric(_("95th percentile"), f"{summary['tokens_p95']:,}")
    columns[2].metric(_("Longest"), f"{summary['tokens_max']:,}")
    columns[3].metric(
        _("Cut at {max_length}").format(max_length=summary["max_length"]), f"{summary['cut_rows']:,} rows"
    )
    for warning in dataset.warnings:
        st.warning(plain_markdown(warning), icon=":material/warning:")
    st.markdown(_("**One example, in the base model's own chat template**"))
    st.code(dataset.preview.get("formatted", ""), language=None, wrap_lines=True)
    st.caption(_("The loss is taken on the assistant's replies only:"))
    st.code(dataset.preview.get("trained", ""), language=None, wrap_lines=True)


def show_curves(view: JobView, build_figure: Callable[[list[dict[str, Any]]], Any], name: str) -> None:
    """A tuning job's curves (``build_figure`` of its metric history), once it has points."""
    if view.history:
        st.plotly_chart(
            build_figure(view.history),
            key=f"finetune.{name}_curves.{view.job.id}",
            config={"displayModeBar": False},  # it would sit on the right panel's title
        )


def show_progress_chart(view: JobView) -> None:
    """Loss and validation loss curves, and tokens per second."""
    show_curves(view, build_chat_curves_figure, "chat")
    speeds = [p["value"] for p in view.history if p["name"] == "tokens_per_second"]
    if speeds and view.job.status == "running":
        st.caption(":material/speed: " + _("{speeds:,.0f} tokens/s").format(speeds=speeds[-1]))


def show_report_warnings(report: Any | None) -> bool:
    """A tuning report's warnings; False, saying so, when the job has no report."""
    if report is None:
        st.warning(_("This job has no report."), icon=":material/warning:")
        return False
    for warning in report.warnings():
        st.warning(warning, icon=":material/warning:")
    return True


def show_side_by_side(table: pd.DataFrame) -> None:
    """The held-out prompts with the base and the tuned model's greedy replies (as text: a model's
    or a user's words are never rendered as Markdown)."""
    st.markdown("**" + _("Held-out prompts: base vs tuned (greedy replies)") + "**")
    if table.empty:
        st.caption(_("No held-out prompts were answered (set them in the hyperparameters)."))
    else:
        st.dataframe(table, hide_index=True, column_config={c: st.column_config.TextColumn(c) for c in table.columns})


def show_report(view: JobView) -> None:
    """Validation loss and perplexity before and after, and base vs tuned replies side by side."""
    report = chat_studio.load_report(view.job)
    if not show_report_warnings(report):
        return
    if not report.too_few_prompts:  # too few held-out prompts: no headline to mislead with
        columns = st.columns(3)
        columns[0].metric(
            _("Validation loss"),
            f"{report.val_loss_after:.3f}",
            delta=f"{report.val_loss_after - report.val_loss_before:+.3f}",
            delta_color="inverse",
        )
        columns[1].metric(
            _("Perplexity"),
            f"{report.perplexity_after:,.2f}",
            delta=f"{report.perplexity_after - report.perplexity_before:+,.2f}",
            delta_color="inverse",
        )
        columns[2].metric(
            _("Training speed"),
            _("{tokens_per_second:,.0f} tokens/s").format(tokens_per_second=report.tokens_per_second),
        )
    scores = report.reply_scores()
    st.caption(
        _(
            "Loss {val_loss_before:.3f} before and {val_loss_after:.3f} after tuning, perplexity "
            "{perplexity_before:,.2f} and {perplexity_after:,.2f}, on {validation_conversations} "
            "held-out conversations (assistant tokens only). Trained {trainable_parameters:,} of "
            "{total_parameters:,} parameters."
        ).format(
            val_loss_before=report.val_loss_before,
            val_loss_after=report.val_loss_after,
            perplexity_before=report.perplexity_before,
            perplexity_after=report.perplexity_after,
            validation_conversations=report.validation_conversations,
            trainable_parameters=report.trainable_parameters,
            total_parameters=report.total_parameters,
        )
        + (
            _(" Replies sharing words with the reference: base {scores:.0%}, tuned {scores2:.0%}.").format(
                scores=scores[0], scores2=scores[1]
            )
            if scores is not None
            else ""
        )
    )
    show_side_by_side(side_by_side_table(report))


def show_model_actions(view: JobView) -> None:
    """Downloads (adapter, merged model) and the way to the Text generation demo."""
    job = view.job
    left, middle, right = st.columns(3)
    if job.artefacts.get("adapter_dir"):
        left.download_button(
            _("Download LoRA adapter (.zip)"),
            data=lambda: chat_studio.export_adapter_zip(job).read_bytes(),
            file_name=chat_studio.adapter_export_name(job),
            mime="application/zip",
            key=f"finetune.adapter.{job.id}",
            icon=":material/download:",
        )
    middle.download_button(
        _("Download merged model (.zip)"),
        data=lambda: export.export_model_zip(job).read_bytes(),
        file_name=export.export_name(job),
        mime="application/zip",
        key=f"finetune.merged.{job.id}",
        icon=":material/download:",
    )
    right.page_link(
        "pages/demos/text_generation.py",
        label=_("Chat with it (pick it in the model list; compare with its base)"),
        icon=":material/forum:",
    )


def show_tuning_job_form(
    key: str,
    params: ChatModelParams,
    data: tuple[object, ...] | None,
    check: Callable[[], TuningDataset],
    show_summary: Callable[[TuningDataset], None],
    submit: Callable[[TuningDataset], Job],
    texts: tuple[str, str],
) -> Job | None:
    """*Check data* and *Start training* of a kind that tunes a chat model (chat and preference
    tuning); returns the job it queued, if any (errors are shown).

    Args:
        data: what the form's data was made from (a digest, the mapping), None while there is none.
        check: the kind's checks of that data against ``params`` (raises ShowcaseError).
        texts: what to upload while there is no data, and what the checks are doing.
    """
    missing, checking = texts
    check_clicked, start = checked_data.show_check_and_start(key, data is not None, missing)
    # Everything a checked dataset depends on: the data, the tokenizer's model, the cut and the split.
    made_from = (data, params.base_model, params.max_length, params.validation_fraction, params.seed)
    if check_clicked:
        # The base model's tokenizer formats the data; its weights are not read.
        with user_errors(), st.spinner(checking):
            dataset = check()
            checked_data.remember(key, made_from, dataset)
            show_summary(dataset)
            models.show_base_availability(params.base_model)
    if start:
        with user_errors(), st.spinner(_("Checking the data and queuing the job…")):
            dataset = checked_data.recall(key, made_from)
            if dataset is None:
                dataset = check()
                checked_data.remember(key, made_from, dataset)
            return submit(dataset)
    return None


def show_new_job_form(key: str) -> Job | None:
    """Upload, base model, parameters, *Check data* and *Start training*; returns the job it
    queued, if any (errors are shown)."""
    data = show_upload(key)
    params = pick_parameters(pick_base_model(key), key)
    owner = current_owner()
    return show_tuning_job_form(
        key,
        params,
        None if data is None else data[1:],
        lambda: chat_studio.check_chat_data(data[0], data[2], params, owner),
        show_data_summary,
        lambda dataset: chat_studio.submit_chat_job(params, dataset, owner=owner),
        (_("Upload conversations to continue."), _("Checking the conversations against the base model…")),
    )
