"""The plain-Python chat-tuning API and the ``chat`` job kind: conversations + params in, a tuned
chat model (merged, for the demo; plus its LoRA adapter), a report and a model card out.

The worker runs queued chat jobs through ``CHAT_HANDLER``; scripts and benchmarks call
``run_chat_tuning`` directly, without the queue.

Run folder layout::

    model/      the tuned model, adapters merged in (config.json + safetensors + tokenizer):
                what the Text generation demo loads, recorded by the job like any fine-tuned model
    adapter/    LoRA only: adapter_model.safetensors + adapter_config.json (+ README.md)
    chat_report.json, params.json, data/chat_dataset.json
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import torch

from backend.config import Settings
from backend.i18n import N_
from backend.jobs.progress import ProgressCallback
from backend.jobs.store import Job
from backend.jobs.worker import JobHandler
from backend.model_registry import display_name
from backend.models.resolve import catalogue
from backend.server_paths import shown_path
from backend.training.chat.card import build_chat_card
from backend.training.chat.data import ChatDataset
from backend.training.chat.params import LORA, ChatTuneParams
from backend.training.chat.report import CHAT_REPORT_FILE, ChatReport
from backend.training.chat.trainer import tune_chat_model
from backend.training.common import MODEL_FOLDER, Run, RunOptions, run_stored_job, start_run, training_handler

ADAPTER_FOLDER = "adapter"
ADAPTER_CONFIG = "adapter_config.json"


ReportT = TypeVar("ReportT", bound="TuningReport")


class TuningReport(Protocol):
    """A chat or preference tuning report (``ChatReport``, ``PreferenceReport``)."""

    def headline(self) -> dict[str, Any]: ...

    def save(self, run_dir: Path) -> Path: ...


@dataclass
class ChatTuningResult(Generic[ReportT]):
    """Where the tuned model and adapter went, and the report (chat and preference tuning alike)."""

    model_dir: str
    adapter_dir: str
    report: ReportT
    seconds: float
    device: str


def base_model_name(model_ref: str, settings: Settings) -> str:
    """How the base model is named in cards and adapter configs: a hub id as it is, a folder by
    its place in the models or runs folder, never by its server path."""
    return shown_path(display_name(model_ref, settings), settings)


def save_tuned_chat_model(model: Any, tokenizer: Any, method: str, run_dir: Path, base_name: str) -> tuple[Path, Path]:
    """Save a tuned chat model into the run folder (chat and preference tuning alike): a LoRA
    model's adapter into ``adapter/`` (its config naming the base as ``base_name``), then the model
    with any adapters merged in, and its tokenizer, into ``model/``; returns both folders."""
    model_dir, adapter_dir = run_dir / MODEL_FOLDER, run_dir / ADAPTER_FOLDER
    for folder in (model_dir, adapter_dir):
        shutil.rmtree(folder, ignore_errors=True)
    model = model.to("cpu")
    if method == LORA:
        model.save_pretrained(adapter_dir)
        # peft records the base as the path it was loaded from; a download must not carry a server path.
        config_path = adapter_dir / ADAPTER_CONFIG
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = base_name
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        model = model.merge_and_unload()
    # Saved in float32: bf16 would round away small tuned changes to the weights.
    model.to(torch.float32).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir, adapter_dir


def trained_system_prompt(conversations: list[list[dict[str, str]]]) -> str:
    """The system prompt most training conversations open with ("" when most have none)."""
    counts = Counter(c[0]["content"] if c and c[0]["role"] == "system" else "" for c in conversations)
    return counts.most_common(1)[0][0] if counts else ""


def run_chat_tuning(
    params: ChatTuneParams,
    dataset: ChatDataset,
    run_dir: Path,
    options: RunOptions | None = None,
) -> ChatTuningResult[ChatReport]:
    """Tune, measure and save a chat model; no queue involved.

    Args:
        params: validated when the job was submitted.
        dataset: checked conversations (``chat_data.prepare_chat_dataset``).
        run_dir: the run's folder (layout in the module docstring).
        options: where it reports (loss and tokens/s points), who owns the model, the device.

    Raises:
        ShowcaseError: the base model cannot be loaded or tuned, or memory runs out.
        JobCancelled: ``options.should_stop`` returned True.
    """
    doing = f"Tuning a chat model on {{device}} with the {params.method} method"
    run = start_run(run_dir, params.seed, doing, options)
    tuned = tune_chat_model(params, dataset, run_dir, run.reporter, run.settings, run.device)
    run.reporter.raise_if_stopped()
    report = ChatReport(
        val_loss_before=tuned.val_loss_before,
        val_loss_after=tuned.val_loss_after,
        validation_conversations=len(dataset.validation),
        train_conversations=len(dataset.train),
        train_tokens=tuned.train_tokens,
        tokens_per_second=tuned.tokens_per_second,
        trainable_parameters=tuned.trainable_parameters,
        total_parameters=tuned.total_parameters,
        method=params.method,
        side_by_side=[row.__dict__ for row in tuned.side_by_side],
        system_prompt=trained_system_prompt(dataset.train),
    )
    return save_chat_run(
        run,
        params,
        tuned,
        report,
        params.title or f"Chat model {run_dir.name}",
        lambda created, base_name: build_chat_card(params, dataset, report, created, run.device.name, base_name),
        system_prompt=report.system_prompt,
    )


def save_chat_run(
    run: Run,
    params: Any,
    tuned: Any,
    report: ReportT,
    title: str,
    build_card: Callable[[str, str], str],
    system_prompt: str | None = None,
) -> ChatTuningResult[ReportT]:
    """Save a tuned chat model (``tuned.model``, ``tuned.tokenizer``) with its ``report``, and its
    card (``build_card(created, base_name)``) and manifest as the demo's model ``title``, into the
    run folder: the end of every chat or preference tuning run."""
    base_name = base_model_name(params.base_model, run.settings)
    model_dir, adapter_dir = save_tuned_chat_model(tuned.model, tuned.tokenizer, params.method, run.run_dir, base_name)
    report.save(run.run_dir)
    run.finish(
        model_dir,
        catalogue.TEXT_GENERATION,
        title,
        report.headline(),
        lambda created: build_card(created, base_name),
        card_folders=(adapter_dir,),
        system_prompt=system_prompt,
    )
    return ChatTuningResult(
        str(model_dir), str(adapter_dir) if adapter_dir.is_dir() else "", report, run.seconds, run.device.name
    )


def chat_tuning_handler(
    load_params: Callable[[dict[str, Any]], Any],
    load_dataset: Callable[[Path], Any],
    tune: Callable[[Any, Any, Path, RunOptions], ChatTuningResult],
    report_file: str,
    speed: str,
    doing: str,
) -> JobHandler:
    """How the worker runs a kind that tunes a chat model (chat and preference tuning): ``tune``
    the claimed job's stored parameters and data. Its metrics are the report's headline, its
    ``speed`` figure and the seconds; its artefacts the model for the demo (``model_dir``,
    ``model_task``) and the base it was tuned from (for "compare with base")."""

    def run_job(
        job: Job, events: ProgressCallback, should_stop: Callable[[], bool], settings: Settings
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        run_dir, params, result = run_stored_job(job, events, should_stop, settings, load_params, load_dataset, tune)
        metrics = {**result.report.headline(), speed: getattr(result.report, speed), "seconds": result.seconds}
        artefacts = {
            "model_dir": result.model_dir,
            "model_task": catalogue.TEXT_GENERATION,
            "adapter_dir": result.adapter_dir,
            "base_model": params.base_model,
            "report": str(run_dir / report_file),
            "device": result.device,
        }
        return metrics, artefacts

    return training_handler(
        run_job,
        doing,
        N_("Tuning"),
        N_(
            "Lower the batch size or the max length, use LoRA instead of full fine-tuning, or pick a smaller base model"
        ),
        (MODEL_FOLDER, ADAPTER_FOLDER),
    )


CHAT_HANDLER = chat_tuning_handler(
    ChatTuneParams.from_dict, ChatDataset.load, run_chat_tuning, CHAT_REPORT_FILE, "tokens_per_second", "Chat tuning"
)
