"""The studio's "Chat model" screens: upload conversations, map them, check them against the base
model, pick LoRA or full tuning, submit; and the finished job's report, downloads and demo link.

*Check data* keeps the checked conversations in the session under what they were made from
(upload, mapping, base model, max length, split); *Start training* submits exactly those, or
checks again when anything changed since.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from backend import uploads
from backend.errors import InvalidInputError
from backend.jobs.manage import JobView
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown
from backend.training import chat_jobs, export
from backend.training.chat_data import (
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
from backend.training.chat_params import (
    ALL_LINEAR,
    CHAT_METHODS,
    CHAT_PARAM_RANGES,
    CHAT_PRECISIONS,
    FULL,
    LORA,
    ChatTuneParams,
    default_chat_params,
)
from backend.training.chat_report import build_chat_curves_figure, side_by_side_table
from backend.training.params import MAX_TITLE_CHARS
from pages.components import upload
from pages.components.auth import current_owner
from pages.components.errors import show_error

METHOD_LABELS = {
    LORA: "LoRA (small adapters on a frozen base; minutes on a CPU for the smallest model)",
    FULL: "Full fine-tuning (every weight; models up to 600M parameters)",
}
LOCAL_FOLDER = "Local folder…"
_NO_SYSTEM = "(none)"
_PREVIEW_ROWS = 10


@st.cache_data(show_spinner=False, max_entries=4)
def _read(name: str, digest: str, _data: bytes) -> ChatUpload:
    return read_chat_upload(name, _data)


def show_upload(key: str) -> tuple[ChatUpload, str, ChatMapping] | None:
    """The conversations upload, a preview and the explicit mapping; None while missing or refused."""
    file = upload.show_file_upload(
        f"{key}.file",
        "Conversations",
        CHAT_SUFFIXES,
        uploads.MAX_TABLE_BYTES,
        help="JSONL with messages (role/content), ShareGPT (conversations: from/value) or Alpaca"
        " (instruction/input/output), or a table with prompt and response columns (system optional).",
    )
    if file is None:
        return None
    try:
        chat_upload = _read(file.name, file.digest, file.data)
    except InvalidInputError as error:
        show_error(error)
        return None
    st.dataframe(chat_upload.table().head(_PREVIEW_ROWS).astype(str), hide_index=True, height=220)
    st.caption(f"{len(chat_upload):,} rows · first {_PREVIEW_ROWS} shown")
    guessed = guess_mapping(chat_upload)
    shape = st.selectbox(
        "Data shape",
        SHAPES,
        index=SHAPES.index(guessed.shape),
        format_func=SHAPE_LABELS.get,
        key=f"{key}.shape",
        help="Guessed from the file; change it if the guess is wrong.",
    )
    prompt = response = system = ""
    if shape == TABLE:
        columns = chat_upload.columns
        left, middle, right = st.columns(3)
        prompt = left.selectbox(
            "Prompt column", columns, index=columns.index(guessed.prompt or columns[0]), key=f"{key}.prompt"
        )
        response_default = guessed.response if guessed.response in columns else columns[-1]
        response = middle.selectbox(
            "Response column", columns, index=columns.index(response_default), key=f"{key}.response"
        )
        options = [_NO_SYSTEM, *columns]
        chosen = right.selectbox(
            "System column",
            options,
            index=options.index(guessed.system) if guessed.system in options else 0,
            key=f"{key}.system",
        )
        system = "" if chosen == _NO_SYSTEM else chosen
    drop = st.checkbox("Drop conversations with a problem instead of refusing the file", key=f"{key}.drop")
    return chat_upload, file.digest, ChatMapping(shape, str(prompt), str(response), str(system), bool(drop))


def pick_base_model(key: str) -> str:
    """A catalogue chat model (the smallest first: it tunes on a CPU), or a folder typed by the user."""
    specs = sorted(catalogue.models_for(catalogue.TEXT_GENERATION), key=lambda spec: spec.params_millions)
    choices = [spec.hub_id for spec in specs] + [LOCAL_FOLDER]

    def describe(hub_id: str) -> str:
        spec = catalogue.find_spec(hub_id, catalogue.TEXT_GENERATION)
        return f"{spec.title} · {hub_id} · {spec.params_millions:,.0f}M parameters" if spec else hub_id

    choice = st.selectbox("Base chat model", choices, format_func=describe, key=f"{key}.base")
    if choice != LOCAL_FOLDER:
        return choice
    folder = st.text_input(
        "Model folder",
        key=f"{key}.base_folder",
        placeholder="a chat model folder inside the models folder",
        help="It needs a chat template. Folders outside the models or runs folder are refused.",
    )
    return folder.strip()


def _number(column, label: str, name: str, value: float, key: str, **options) -> float:  # noqa: ANN001
    bounds = CHAT_PARAM_RANGES[name]
    return column.number_input(
        label, min_value=bounds.low, max_value=bounds.high, value=value, step=bounds.step, key=key, **options
    )


def pick_parameters(base_model: str, key: str) -> ChatTuneParams:
    """Method, title and hyperparameters with defaults that work; validated on submit."""
    method = st.radio("Method", CHAT_METHODS, format_func=METHOD_LABELS.get, key=f"{key}.method")
    defaults = default_chat_params(base_model, method)
    title = st.text_input(
        "Model title", key=f"{key}.title", max_chars=MAX_TITLE_CHARS, placeholder="e.g. Support assistant"
    )
    with st.expander("Hyperparameters", icon=":material/tune:"):
        left, middle, right = st.columns(3)
        epochs = _number(left, "Epochs", "epochs", defaults.epochs, f"{key}.epochs")
        learning_rate = _number(
            middle, "Learning rate", "learning_rate", defaults.learning_rate, f"{key}.lr.{method}", format="%.0e"
        )
        batch_size = _number(
            right, "Batch size", "batch_size", defaults.batch_size, f"{key}.batch", help="Halved on GPU out-of-memory."
        )
        max_length = _number(
            left,
            "Max length (tokens)",
            "max_length",
            defaults.max_length,
            f"{key}.max_length",
            help="Longer conversations are cut at the end; Check data says how many.",
        )
        validation = _number(
            middle, "Validation share", "validation_fraction", defaults.validation_fraction, f"{key}.validation"
        )
        precision = right.selectbox(
            "Precision",
            CHAT_PRECISIONS,
            key=f"{key}.precision",
            help="auto: bf16 mixed precision on a GPU, float32 on a CPU; bf16 on a CPU with bf16 units is faster.",
        )
        rank = _number(left, "LoRA rank", "lora_rank", defaults.lora_rank, f"{key}.rank", disabled=method == FULL)
        alpha = _number(
            middle, "LoRA alpha", "lora_alpha", defaults.lora_alpha, f"{key}.alpha", disabled=method == FULL
        )
        dropout = _number(
            right, "LoRA dropout", "lora_dropout", defaults.lora_dropout, f"{key}.dropout", disabled=method == FULL
        )
        modules = left.text_input(
            "Target modules",
            ALL_LINEAR,
            key=f"{key}.modules",
            disabled=method == FULL,
            help="all-linear, or names such as q_proj,k_proj,v_proj,o_proj.",
        )
        prompts = _number(
            middle, "Held-out prompts in the report", "report_prompts", defaults.report_prompts, f"{key}.prompts"
        )
        seed = _number(right, "Seed", "seed", defaults.seed, f"{key}.seed")
    return ChatTuneParams(
        base_model=base_model,
        title=title.strip(),
        method=method,
        epochs=int(epochs),
        learning_rate=float(learning_rate),
        batch_size=int(batch_size),
        max_length=int(max_length),
        lora_rank=int(rank),
        lora_alpha=int(alpha),
        lora_dropout=float(dropout),
        target_modules=str(modules).strip() or ALL_LINEAR,
        validation_fraction=float(validation),
        report_prompts=int(prompts),
        seed=int(seed),
        precision=str(precision),
    )


@dataclass(frozen=True)
class _MadeFrom:
    digest: str
    mapping: ChatMapping
    base_model: str
    max_length: int
    validation_fraction: float
    seed: int


def _made_from(digest: str, mapping: ChatMapping, params: ChatTuneParams) -> _MadeFrom:
    return _MadeFrom(digest, mapping, params.base_model, params.max_length, params.validation_fraction, params.seed)


def check_data(data: tuple[ChatUpload, str, ChatMapping], params: ChatTuneParams, key: str) -> ChatDataset:
    """Check the conversations against the base model (raises ShowcaseError); remembered for Start."""
    chat_upload, digest, mapping = data
    dataset = chat_jobs.check_chat_data(chat_upload, mapping, params, current_owner())
    st.session_state[f"{key}.checked"] = (_made_from(digest, mapping, params), dataset)
    return dataset


def checked_data(data: tuple[ChatUpload, str, ChatMapping], params: ChatTuneParams, key: str) -> ChatDataset:
    """What *Check data* made from exactly this data and these settings, else a new check."""
    checked = st.session_state.get(f"{key}.checked")
    if checked is not None and checked[0] == _made_from(data[1], data[2], params):
        return checked[1]
    return check_data(data, params, key)


def show_data_summary(dataset: ChatDataset) -> None:
    """What the checks found: sizes, token lengths, cut rows, warnings, one formatted example."""
    summary = dataset.summary
    st.success(
        f"Data looks usable: {summary['train_size']} training and {summary['validation_size']} validation"
        f" conversations ({summary['validation_source']}).",
        icon=":material/fact_check:",
    )
    columns = st.columns(4)
    columns[0].metric("Median tokens", f"{summary['tokens_median']:,}")
    columns[1].metric("95th percentile", f"{summary['tokens_p95']:,}")
    columns[2].metric("Longest", f"{summary['tokens_max']:,}")
    columns[3].metric(f"Cut at {summary['max_length']}", f"{summary['cut_rows']:,} rows")
    for warning in dataset.warnings:
        st.warning(plain_markdown(warning), icon=":material/warning:")
    st.markdown("**One example, in the base model's own chat template**")
    st.code(dataset.preview.get("formatted", ""), language=None, wrap_lines=True)
    st.caption("The loss is taken on the assistant's replies only:")
    st.code(dataset.preview.get("trained", ""), language=None, wrap_lines=True)


def show_progress_chart(view: JobView) -> None:
    """Loss and validation loss curves, and tokens per second."""
    if view.history:
        st.plotly_chart(build_chat_curves_figure(view.history), key=f"finetune.chat_curves.{view.job.id}")
    speeds = [p["value"] for p in view.history if p["name"] == "tokens_per_second"]
    if speeds and view.job.status == "running":
        st.caption(f":material/speed: {speeds[-1]:,.0f} tokens/s")


def show_report(view: JobView) -> None:
    """Validation loss and perplexity before and after, and base vs tuned replies side by side."""
    job = view.job
    report = chat_jobs.load_report(job)
    if report is None:
        st.warning("This job has no report.", icon=":material/warning:")
        return
    for warning in report.warnings():
        st.warning(warning, icon=":material/warning:")
    if not report.too_few_prompts:  # too few held-out prompts: no headline to mislead with
        columns = st.columns(3)
        columns[0].metric(
            "Validation loss",
            f"{report.val_loss_after:.3f}",
            delta=f"{report.val_loss_after - report.val_loss_before:+.3f}",
            delta_color="inverse",
        )
        columns[1].metric(
            "Perplexity",
            f"{report.perplexity_after:,.2f}",
            delta=f"{report.perplexity_after - report.perplexity_before:+,.2f}",
            delta_color="inverse",
        )
        columns[2].metric("Training speed", f"{report.tokens_per_second:,.0f} tokens/s")
    scores = report.reply_scores()
    st.caption(
        f"Loss {report.val_loss_before:.3f} before and {report.val_loss_after:.3f} after tuning, perplexity"
        f" {report.perplexity_before:,.2f} and {report.perplexity_after:,.2f}, on"
        f" {report.validation_conversations} held-out conversations (assistant tokens only)."
        f" Trained {report.trainable_parameters:,} of {report.total_parameters:,} parameters."
        + (
            f" Replies sharing words with the reference: base {scores[0]:.0%}, tuned {scores[1]:.0%}."
            if scores is not None
            else ""
        )
    )
    st.markdown("**Held-out prompts: base vs tuned (greedy replies)**")
    table = side_by_side_table(report)
    if table.empty:
        st.caption("No held-out prompts were answered (set them in the hyperparameters).")
    else:
        st.dataframe(table, hide_index=True, column_config={c: st.column_config.TextColumn(c) for c in table.columns})


def show_model_actions(view: JobView) -> None:
    """Downloads (adapter, merged model) and the way to the Text generation demo."""
    job = view.job
    left, middle, right = st.columns(3)
    if job.artefacts.get("adapter_dir"):
        left.download_button(
            "Download LoRA adapter (.zip)",
            data=lambda: chat_jobs.export_adapter_zip(job).read_bytes(),
            file_name=chat_jobs.adapter_export_name(job),
            mime="application/zip",
            key=f"finetune.adapter.{job.id}",
            icon=":material/download:",
        )
    middle.download_button(
        "Download merged model (.zip)",
        data=lambda: export.export_model_zip(job).read_bytes(),
        file_name=export.export_name(job),
        mime="application/zip",
        key=f"finetune.merged.{job.id}",
        icon=":material/download:",
    )
    right.page_link(
        "pages/demos/text_generation.py",
        label="Chat with it (pick it in the model list; compare with its base)",
        icon=":material/forum:",
    )
