"""The plain-Python preference-tuning API and the ``preference`` job kind's handler: pairs + params
in, a tuned chat model (merged, for the demo; plus its LoRA adapter), a report and a model card out.

The worker runs queued preference jobs through ``PREFERENCE_HANDLER``; scripts and benchmarks call
``run_preference_tuning`` directly, without the queue.

Run folder layout::

    model/      the tuned model, adapters merged in: what the Text generation demo loads,
                recorded by the job like any fine-tuned model
    adapter/    LoRA only: adapter_model.safetensors + adapter_config.json (+ README.md)
    preference_report.json, params.json, data/preference_dataset.json
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.i18n import N_, _
from backend.jobs.progress import ProgressCallback
from backend.jobs.store import Job
from backend.training.chat.runner import ADAPTER_FOLDER, ChatTuningResult, chat_job_outputs, save_chat_run
from backend.training.common import MODEL_FOLDER, RunOptions, run_stored_job, start_run, training_handler
from backend.training.preference.card import build_preference_card
from backend.training.preference.data import PreferenceDataset
from backend.training.preference.params import PreferenceParams
from backend.training.preference.report import PREFERENCE_REPORT_FILE, PreferenceReport
from backend.training.preference.trainer import tune_preference_model


def run_preference_tuning(
    params: PreferenceParams,
    dataset: PreferenceDataset,
    run_dir: Path,
    options: RunOptions | None = None,
) -> ChatTuningResult[PreferenceReport]:
    """Tune, measure and save a chat model on preference pairs; no queue involved.

    Args:
        params: validated when the job was submitted.
        dataset: checked pairs (``preference.data.prepare_preference_dataset``).
        run_dir: the run's folder (layout in the module docstring).
        options: where it reports (loss, reward and pairs/s points), who owns the model, the device.

    Raises:
        ShowcaseError: the base model cannot be loaded or tuned, or memory runs out.
        JobCancelled: ``options.should_stop`` returned True.
    """
    doing = _("Preference tuning (DPO) a chat model on {{device}} with the {method} method").format(
        method=params.method
    )
    run = start_run(run_dir, params.seed, doing, options)
    tuned = tune_preference_model(params, dataset, run_dir, run.reporter, run.settings, run.device)
    run.reporter.raise_if_stopped()
    report = PreferenceReport(
        beta=params.beta,
        base_margins=[round(p.margin, 4) for p in tuned.base_log_probs],
        tuned_margins=[round(p.margin, 4) for p in tuned.tuned_log_probs],
        train_pairs=len(dataset.train),
        pairs_per_second=tuned.pairs_per_second,
        trainable_parameters=tuned.trainable_parameters,
        total_parameters=tuned.total_parameters,
        method=params.method,
        side_by_side=[row.__dict__ for row in tuned.side_by_side],
    )
    run.reporter.log(
        _("Held-out pairs: the base model prefers the chosen reply in {before:.0%}, the tuned model in {after:.0%};"
          " reward accuracy {accuracy:.0%}").format(
            before=report.preference_accuracy_before,
            after=report.preference_accuracy_after,
            accuracy=report.reward_accuracy,
        )
    )  # fmt: skip
    return save_chat_run(
        run,
        run_dir,
        params,
        tuned,
        report,
        params.title or _("Preference-tuned model {run}").format(run=run_dir.name),
        lambda created, base_name: build_preference_card(params, dataset, report, created, run.device.name, base_name),
    )


def run_job(
    job: Job, events: ProgressCallback, should_stop: Callable[[], bool], settings: Settings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tune a claimed preference job from its run folder; its artefacts record the model for the
    demo (``model_dir``, ``model_task``) and the base it was tuned from (for "compare with base")."""
    run_dir, params, result = run_stored_job(
        job, events, should_stop, settings, PreferenceParams.from_dict, PreferenceDataset.load, run_preference_tuning
    )
    return chat_job_outputs(
        run_dir, params.base_model, result, PREFERENCE_REPORT_FILE, {"pairs_per_second": result.report.pairs_per_second}
    )


PREFERENCE_HANDLER = training_handler(
    run_job,
    N_("Preference tuning"),
    N_("Tuning"),
    N_("Lower the batch size or the max length, use LoRA instead of full fine-tuning, or pick a smaller base model"),
    (MODEL_FOLDER, ADAPTER_FOLDER),
)
