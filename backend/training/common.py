"""What every training kind shares: the run folder's layout, the checked dataset's file, and the
run skeleton around a kind's trainer (device, progress, seed, timing; then the model card, the
demo manifest and the log line once the model is saved).

Run folder layout (``backend.jobs`` adds ``job.json`` and ``params.json``)::

    data/      the checked dataset (``dataset.json`` or ``chat_dataset.json``, images)
    model/     the trained model as the demos load it, with its card (README.md) and manifest
    ...        each kind's report (``evaluation.json``, ``chat_report.json``) and extras
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import torch

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.jobs.kinds import JobKind, JobParams
from backend.jobs.progress import ProgressCallback, Reporter
from backend.jobs.store import Job
from backend.jobs.worker import JobHandler
from backend.model_registry import write_manifest
from backend.models.resolve.device import DeviceInfo, choose_device
from backend.records import JsonRecord
from backend.server_paths import shown_path

CHAT = "chat"  # the job kind, and the job's task, of every chat-tuning job
PREFERENCE = "preference"  # the job kind, and the job's task, of every preference-tuning job

MODEL_FOLDER = "model"
DATA_FOLDER = "data"
CARD_FILE = "README.md"


class StoredDataset(JsonRecord):
    """A checked dataset (classifier or chat) kept as one JSON file, ``file_name``, in its run's
    data folder; the dataclass has a ``data_dir`` field recording that folder."""

    file_name: ClassVar[str]
    data_dir: str

    def save(self, data_dir: Path) -> Path:
        """Write the dataset as JSON into ``data_dir``, recording that folder in it; returns the file."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = str(data_dir)
        path = data_dir / self.file_name
        # Written beside and renamed over: a retry's data folder hard-links its first run's files.
        written = path.with_name(f".{self.file_name}.writing")
        written.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(written, path)
        return path

    @classmethod
    def load(cls, data_dir: Path) -> Self:
        """Read the dataset back; ``data_dir`` becomes where it was found (a run folder may have
        moved since it was saved)."""
        data = json.loads((data_dir / cls.file_name).read_text(encoding="utf-8"))
        data["data_dir"] = str(data_dir)
        return cls.from_stored(data)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> Self:
        """The dataset from its JSON fields (a kind with nested records rebuilds them here)."""
        return cls(**data)


_Report = TypeVar("_Report")


def read_json_report(path: Path, from_dict: Callable[[dict[str, Any]], _Report]) -> _Report | None:
    """A report a run saved as JSON (evaluation, chat report), or None when the run has none or its
    file is unreadable: a half-written or hand-edited report must not break the jobs page."""
    if not path.is_file():
        return None
    try:
        return from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


class SavedReport:
    """Mixin for the report dataclass a tuning run saves as JSON in its run folder (chat and
    preference tuning): its ``to_dict``, ``from_dict`` and ``save`` as ``report_file``."""

    report_file: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of ``to_dict`` (unknown keys ignored)."""
        known = {item.name for item in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, folder: Path) -> Path:
        """Write the report as ``report_file`` into ``folder``."""
        path = folder / self.report_file
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path


def raise_if_errors(errors: list[str]) -> None:
    """Refuse the data with every problem in ``errors``, numbered; do nothing when there are none."""
    if errors:
        raise InvalidInputError(
            _("The data cannot be used yet: ") + " ".join(f"({i}) {e}" for i, e in enumerate(errors, 1)),
            _("Fix the file and upload it again; nothing was queued."),
        )


@dataclass(frozen=True)
class RunOptions:
    """How a training run reports, for whom, and on what: the same for every kind's runner
    (``run_training``, ``run_chat_tuning``), so a script needs none (every field has a default).

    Attributes:
        progress_callback: receives ``JobEvent``s (progress with ETA, metric points, logs).
        should_stop: polled during training; returning True cancels the run.
        owner: recorded in the model manifest, so the demos show the model to its owner only.
        settings: settings to use (default: the process settings).
        device: device to train on (default: chosen from the settings).
    """

    progress_callback: ProgressCallback | None = None
    should_stop: Callable[[], bool] | None = None
    owner: str = ""
    settings: Settings | None = None
    device: DeviceInfo | None = None


@dataclass
class Run:
    """One training run under way: where it reports, what it runs on, whose it is, and when it started."""

    run_dir: Path
    settings: Settings
    device: DeviceInfo
    reporter: Reporter
    owner: str
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        """Seconds since the run started, rounded for the job's metrics."""
        return round(time.perf_counter() - self.started, 2)

    def finish(
        self,
        model_dir: Path,
        model_task: str,
        title: str,
        headline: dict[str, Any],
        build_card: Callable[[str], str],
        card_folders: Iterable[Path] = (),
        system_prompt: str | None = None,
    ) -> None:
        """Write the model card (``build_card(created)``) into the model folder and
        ``card_folders``, and the manifest the demos list the model by (with a chat model's
        training ``system_prompt``); log where it went."""
        created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        card = build_card(created)
        for folder in (model_dir, *card_folders):
            if folder.is_dir():
                (folder / CARD_FILE).write_text(card, encoding="utf-8")
        write_manifest(model_dir, model_task, title, created, self.owner, headline, system_prompt)
        self.reporter.log(f"Saved the model to {shown_path(model_dir, self.settings)}")


def start_run(run_dir: Path, seed: int, doing: str, options: RunOptions | None) -> Run:
    """Pick the device, seed torch, and log ``doing`` (``{device}`` is filled in) as the run's first
    line; no ``options`` is ``RunOptions()``."""
    options = options or RunOptions()
    settings = options.settings or get_settings()
    device = options.device or choose_device(settings.device)
    reporter = Reporter(options.progress_callback, options.should_stop)
    reporter.log(doing.format(device=device.name))
    torch.manual_seed(seed)
    return Run(run_dir, settings, device, reporter, options.owner)


def run_stored_job(
    job: Job,
    events: ProgressCallback,
    should_stop: Callable[[], bool],
    settings: Settings,
    load_params: Callable[[dict[str, Any]], Any],
    load_dataset: Callable[[Path], Any],
    run: Callable[[Any, Any, Path, RunOptions], Any],
) -> tuple[Path, Any, Any]:
    """Run a claimed job with its kind's runner (``run_training``, ``run_chat_tuning``) on the
    parameters and checked dataset its run folder holds; returns the folder, the parameters and
    the runner's result."""
    run_dir = Path(job.run_dir)
    params = load_params(job.params)
    options = RunOptions(events, should_stop, job.owner, settings)
    return run_dir, params, run(params, load_dataset(run_dir / DATA_FOLDER), run_dir, options)


def training_kind(
    name: str,
    noun: str,
    handler: JobHandler,
    check_base: Callable[[Any, str, Settings], object],
    load_params: Callable[[dict[str, Any]], JobParams],
    dataset_file: str,
) -> JobKind:
    """A training kind's ``JobKind``: submitting validates its parameters, then runs its base-model
    gate, ``check_base(params, owner, settings)`` (the one the page's *Check data* calls too); its
    input is the run's data folder, whole while its checked ``dataset_file`` is there."""

    def check(params: Any, owner: str, settings: Settings) -> None:
        params.validate()
        check_base(params, owner, settings)

    return JobKind(name, noun, handler, check, load_params, f"{DATA_FOLDER}/{dataset_file}", (DATA_FOLDER,))


def training_handler(
    run: Callable[[Job, ProgressCallback, Callable[[], bool], Settings], tuple[dict[str, Any], dict[str, Any]]],
    doing: str,
    phase: str,
    memory_advice: str,
    output_folders: tuple[str, ...],
) -> JobHandler:
    """How the worker runs a training kind (``JobHandler``): ``run`` saves a model into the run's
    ``output_folders``, which a cancelled or failed run leaves half-written, so they are removed."""

    def remove_outputs(job: Job) -> None:
        for folder in output_folders:
            shutil.rmtree(Path(job.run_dir) / folder, ignore_errors=True)

    return JobHandler(run, doing, N_("model"), memory_advice, phase, remove_outputs)
