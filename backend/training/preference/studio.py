"""What the studio's "Preference tuning" screens call: read pairs (an upload or the arena's votes),
check them against a base model, submit, retry and read the report; and the ``preference`` job kind.

Checking loads only the base model's tokenizer (its chat template and token counts), never its
weights; the base model goes through the one gate every kind passes (``backend.model_gate``) first,
so a folder that can never load, or another owner's, is refused before anything is read. Viewing,
cancelling and deleting a job is the same for every kind (``backend.jobs.manage``); the merged
model and the adapter download as for chat tuning.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from backend.arena import export
from backend.config import Settings, get_settings
from backend.i18n import N_
from backend.jobs import submit
from backend.jobs.store import Job
from backend.models.resolve.plan import LoadPlan
from backend.training.chat import studio as chat_studio
from backend.training.common import PREFERENCE, training_kind
from backend.training.preference.data import (
    PREFERENCE_DATASET_FILE,
    PreferenceDataset,
    PreferenceMapping,
    prepare_preference_dataset,
    rows_table,
)
from backend.training.preference.params import PreferenceParams
from backend.training.preference.report import PreferenceReport, load_preference_report
from backend.training.preference.runner import PREFERENCE_HANDLER


def check_preference_base(params: PreferenceParams, owner: str, settings: Settings | None = None) -> LoadPlan:
    """Refuse a base model that cannot be tuned here, before anything is read or queued (the same
    gate as chat tuning: no such folder, pickle weights, another owner's folder, full fine-tuning of
    a model too large for it, a base that cannot be had now).

    Raises:
        ShowcaseError: the gate's errors.
    """
    return chat_studio.check_chat_base(params.as_chat_params(), owner, settings)


def arena_preference_rows(owner: str) -> list[dict[str, Any]]:
    """The owner's arena votes on chat replies as prompt/chosen/rejected rows (ties and "both bad"
    give no pair). The one place the preference kind reads the arena.

    """
    return export.preference_rows(owner, task="chat")


def arena_preference_table(owner: str) -> pd.DataFrame:
    """The owner's arena votes as a table of pairs, checked like an upload (``check_preference_data``).

    Raises:
        InvalidInputError: no arena, or no votes that make a pair yet.
    """
    return rows_table(arena_preference_rows(owner))


def check_preference_data(
    frame: pd.DataFrame,
    mapping: PreferenceMapping,
    params: PreferenceParams,
    owner: str,
    settings: Settings | None = None,
) -> PreferenceDataset:
    """Every check before queuing: the parameters, the base model (as ``check_preference_base``), its
    chat template, and the pairs (empty fields, identical replies, duplicates, too few pairs, token
    lengths against ``params.max_length``).

    Raises:
        InvalidInputError: listing every problem found in the data.
        ShowcaseError: the base model cannot be used.
    """
    return chat_studio.check_tuning_data(
        partial(prepare_preference_dataset, frame, mapping),
        params,
        check_preference_base,
        owner,
        settings or get_settings(),
    )


PREFERENCE_KIND = training_kind(
    PREFERENCE,
    N_("preference-tuning job"),
    PREFERENCE_HANDLER,
    check_preference_base,
    PreferenceParams.from_dict,
    PREFERENCE_DATASET_FILE,
)


def submit_preference_job(
    params: PreferenceParams, dataset: PreferenceDataset, owner: str = "", settings: Settings | None = None
) -> Job:
    """Store checked pairs with the parameters in a new run folder and queue the job (as
    ``chat_studio.submit_chat_job`` does conversations; ``dataset`` is the result of
    ``check_preference_data``).

    Raises:
        ShowcaseError: bad parameters or a base model that cannot be used (nothing is queued).
    """
    return chat_studio.submit_checked_data(PREFERENCE_KIND, params, dataset, owner, settings)


def retry_preference_job(job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Queue a new preference job with a failed or cancelled one's parameters and pairs.

    Raises:
        InvalidInputError: no such preference job for this owner, not failed or cancelled, or its
            data is gone.
    """
    return submit.retry_job(PREFERENCE_KIND, job_id, owner, settings)


def load_report(job: Job) -> PreferenceReport | None:
    """The report of a finished preference job, if it has one."""
    return load_preference_report(Path(job.run_dir))
