"""What the studio's "Chat model" screens call: check conversations against a base model, submit,
retry, read the report, and download the adapter; and the ``chat`` job kind.

Checking loads only the base model's tokenizer (its chat template and token counts), never its
weights; the base model itself goes through ``plan_load`` and the owner check first, so a folder
that can never load, or another owner's, is refused before anything is read. Viewing, cancelling
and deleting a job is the same for every kind (``backend.jobs.manage``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.jobs import submit
from backend.jobs.kinds import JobKind, JobParams
from backend.jobs.store import SUCCEEDED, Job
from backend.model_gate import check_job_model
from backend.models.loader import load_tokenizer
from backend.models.resolve import catalogue
from backend.models.resolve.plan import LoadPlan
from backend.training.chat.data import CHAT_DATASET_FILE, ChatDataset, ChatMapping, ChatUpload, prepare_chat_dataset
from backend.training.chat.params import CHAT, FULL, FULL_MAX_PARAMS, ChatTuneParams
from backend.training.chat.report import ChatReport, load_chat_report
from backend.training.chat.runner import ADAPTER_FOLDER, CHAT_HANDLER, base_model_name
from backend.training.common import CARD_FILE, DATA_FOLDER, PREFERENCE, training_kind
from backend.training.export import build_export_zip, export_name

# Bytes per parameter of a float32 plan (the estimate plan_load makes at training dtype).
_FLOAT32_BYTES = 4


def check_chat_base(params: ChatTuneParams, owner: str, settings: Settings | None = None) -> LoadPlan:
    """Refuse a base model that cannot be tuned here, before anything is read or queued: no such
    folder, pickle weights, another owner's folder, or full fine-tuning of a model too large for it.

    Raises:
        ShowcaseError: ``check_job_model``'s errors.
        InvalidInputError: full fine-tuning asked of a model past ``FULL_MAX_PARAMS``.
        HubUnreachableError: the base is not downloaded and the hub cannot serve it now.
    """

    def within_full_tuning_limit(plan: LoadPlan) -> None:
        parameters = plan.estimated_bytes // _FLOAT32_BYTES
        if params.method == FULL and parameters > FULL_MAX_PARAMS:
            raise InvalidInputError(
                _(
                    "Full fine-tuning is offered for models up to {FULL_MAX_PARAMS:,.0f}M parameters; this one "
                    "has about {parameters:,.0f}M."
                ).format(FULL_MAX_PARAMS=FULL_MAX_PARAMS / 1e6, parameters=parameters / 1e6),
                _("Use LoRA: it trains a small share of the weights and needs far less memory."),
            )

    return check_job_model(
        catalogue.TEXT_GENERATION,
        params.base_model,
        owner,
        settings or get_settings(),
        training=True,
        check_plan=within_full_tuning_limit,
    )


def check_chat_data(
    upload: ChatUpload, mapping: ChatMapping, params: ChatTuneParams, owner: str, settings: Settings | None = None
) -> ChatDataset:
    """Every check before queuing: the base model (as ``check_chat_base``), its chat template, and
    the conversations (roles, empty turns, duplicates, token lengths against ``params.max_length``).

    Raises:
        InvalidInputError: listing every problem found in the data.
        ShowcaseError: the base model cannot be used.
    """
    return check_tuning_data(
        partial(prepare_chat_dataset, upload, mapping), params, check_chat_base, owner, settings or get_settings()
    )


def check_tuning_data(
    prepare: Callable[..., Any],
    params: Any,
    check_base: Callable[[Any, str, Settings], LoadPlan],
    owner: str,
    settings: Settings,
) -> Any:
    """The checks every tuning of a chat model runs before queuing (chat and preference tuning):
    the parameters, the base model (``check_base``), then the data, through ``prepare(tokenizer,
    params, base_name)`` with the base model's tokenizer."""
    params.validate()
    plan = check_base(params, owner, settings)
    return prepare(load_tokenizer(plan, settings), params, base_model_name(params.base_model, settings))


CHAT_KIND = training_kind(
    CHAT, N_("chat-tuning job"), CHAT_HANDLER, check_chat_base, ChatTuneParams.from_dict, CHAT_DATASET_FILE
)


def submit_chat_job(
    params: ChatTuneParams, dataset: ChatDataset, owner: str = "", settings: Settings | None = None
) -> Job:
    """Store checked conversations with the parameters in a new run folder and queue the job.

    Args:
        params: ``max_length``, ``validation_fraction`` and ``seed`` must be the ones ``dataset``
            was checked with.
        dataset: the result of ``check_chat_data`` (the page's *Check data*), used as it is.
        owner: who may see the job and its model.
        settings: settings to use (default: the process settings).

    Raises:
        InvalidInputError: bad parameters (nothing is queued).
        ShowcaseError: a base model that cannot be used (nothing is queued).
    """

    return submit_checked_data(CHAT_KIND, params, dataset, owner, settings)


def submit_checked_data(kind: JobKind, params: JobParams, dataset: Any, owner: str, settings: Settings | None) -> Job:
    """Queue a job of ``kind`` (chat or preference tuning) with its checked ``dataset`` (a
    ``ChatDataset`` or ``PreferenceDataset``: ``save``, ``summary``, ``warnings``) saved into the
    run's data folder."""

    def write_data(run_dir: Path) -> dict[str, object]:
        # A copy, because saving records the run folder in it and the page keeps the checked original.
        replace(dataset).save(run_dir / DATA_FOLDER)
        return {**dataset.summary, "warnings": dataset.warnings}

    return submit.submit_job(kind, params, write_data, owner, settings)


def retry_chat_job(job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Queue a new chat job with a failed or cancelled one's parameters and conversations.

    Raises:
        InvalidInputError: no such chat job for this owner, not failed or cancelled, or its data is gone.
    """
    return submit.retry_job(CHAT_KIND, job_id, owner, settings)


def load_report(job: Job) -> ChatReport | None:
    """The report of a finished chat job, if it has one."""
    return load_chat_report(Path(job.run_dir))


def adapter_export_name(job: Job) -> str:
    """A safe file name for the adapter zip."""
    return export_name(job).removesuffix(".zip") + "-lora-adapter.zip"


def export_adapter_zip(job: Job, settings: Settings | None = None) -> Path:
    """Build (once) and return the zip of a succeeded LoRA chat or preference job's adapter:
    adapter_model.safetensors, adapter_config.json (base model named by hub id or folder name, never
    a server path) and the card.

    Raises:
        InvalidInputError: not a succeeded LoRA chat job, or its adapter is gone.
    """
    settings = settings or get_settings()
    run_dir = Path(job.run_dir).resolve()
    adapter_dir = run_dir / ADAPTER_FOLDER
    if (
        job.kind not in (CHAT, PREFERENCE)
        or job.status != SUCCEEDED
        or not (adapter_dir / "adapter_config.json").is_file()
    ):
        raise InvalidInputError(_("This job has no adapter to download (full fine-tuning saves a whole model)."))
    return build_export_zip(run_dir, adapter_export_name(job), _adapter_files(adapter_dir), settings)


def _adapter_files(adapter_dir: Path) -> Iterator[tuple[Path, str]]:
    for name in ("adapter_model.safetensors", "adapter_config.json", CARD_FILE):
        path = adapter_dir / name
        if path.is_file() and not path.is_symlink():
            yield path, name
