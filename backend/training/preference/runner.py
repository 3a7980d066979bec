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

from pathlib import Path

from backend.i18n import N_, _
from backend.training.chat.runner import ChatTuningResult, chat_tuning_handler, save_chat_run
from backend.training.common import RunOptions, start_run
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
    """Tune, measure and save a chat model on checked preference pairs
    (``preference.data.prepare_preference_dataset``); no queue involved. The arguments and errors
    are ``chat.runner.run_chat_tuning``'s; ``options`` gets loss, reward and pairs/s points."""
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
        params,
        tuned,
        report,
        params.title or _("Preference-tuned model {run}").format(run=run_dir.name),
        lambda created, base_name: build_preference_card(params, dataset, report, created, run.device.name, base_name),
    )


PREFERENCE_HANDLER = chat_tuning_handler(
    PreferenceParams.from_dict,
    PreferenceDataset.load,
    run_preference_tuning,
    PREFERENCE_REPORT_FILE,
    "pairs_per_second",
    N_("Preference tuning"),
)
