"""The ``auto`` engine setting's background check as a job kind: the first load of a model on a
CPU queues it, the worker runs ``path_check.check_model`` (every candidate path in its own child
process), and later loads take the fastest path that passed. The request that loaded the model
never waits: it answers from torch until the decision is recorded.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from backend.config import Settings, get_settings
from backend.errors import ShowcaseError
from backend.i18n import N_, _
from backend.inference import path_check
from backend.jobs import submit
from backend.jobs.kinds import JobResult, ModelRequest, model_request_handler, model_request_kind
from backend.jobs.progress import Reporter
from backend.jobs.store import Job
from backend.model_gate import check_job_model
from backend.model_registry import display_name
from backend.models.loader import LoadedModel
from backend.models.resolve import engine_choice, engine_record
from backend.models.resolve.plan import plan_load

_LOG = logging.getLogger(__name__)

ENGINE_CHECK = "engine-check"
INPUT_FILE = "check.json"
DECISION_FILE = "decision.json"
# A queued check that has not recorded a decision within this time (the worker was down, the job
# failed or was cancelled) is queued again by the next load.
PENDING_SECONDS = 2 * 3600


@dataclass(frozen=True)
class PathRunRequest(ModelRequest):
    """A job that runs one model's candidate paths on the check's fixed inputs (the engine check,
    the compression lab): a subclass names its ``title_format`` and its run folder's
    ``input_file``."""

    title_format: ClassVar[str] = "{model}"
    input_file: ClassVar[str] = INPUT_FILE

    @property
    def title(self) -> str:
        """The job's title."""
        return _(self.title_format).format(model=display_name(self.model_ref))

    def write_input(self, run_dir: Path) -> dict[str, Any]:
        """Store the request in the run folder; the job's size is its fixed inputs."""
        (run_dir / self.input_file).write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return {"items": path_check.inputs_for(self.task)}


@dataclass(frozen=True)
class EngineCheckRequest(PathRunRequest):
    """Which model to check for which task."""

    title_format = N_("Engine check: {model}")


def _pending_file(task: str, folder: Path, settings: Settings) -> Path:
    return engine_record.decision_file(task, folder, settings).with_suffix(".pending")


def wants_check(task: str, model_ref: str, settings: Settings) -> Path | None:
    """The model's folder when a check should be queued now: ``auto`` is on for ``task``, it runs
    on the CPU from a folder, it has candidate paths, and no decision is recorded or pending."""
    if task not in engine_record.TASK_PATHS or not engine_choice.is_auto(task, settings):
        return None
    plan = plan_load(task, model_ref, settings)
    if plan.device.kind != "cpu" or plan.folder is None or plan.variant:  # a variant runs on the path it names
        return None
    if (plan.folder / engine_choice.EMBEDDING_HEAD_FILE).is_file():
        return None
    if engine_record.read_decision(task, plan.folder, settings) is not None:
        return None
    pending = _pending_file(task, plan.folder, settings)
    try:
        if time.time() - pending.stat().st_mtime < PENDING_SECONDS:
            return None
    except OSError:
        pass
    return plan.folder


def request_check(loaded: object, owner: str, settings: Settings | None = None) -> Job | None:
    """Queue the check of ``loaded``'s paths once (see ``wants_check``); None when none is needed:
    a model server's model (no path of ours to check) or one already on a checked path. A refused
    submission (a quota, the queue down) is logged, never raised: answers go on in torch."""
    if not isinstance(loaded, LoadedModel) or loaded.checked:
        return None
    settings = settings or get_settings()
    try:
        folder = wants_check(loaded.task, loaded.model_ref, settings)
        if folder is None:
            return None
        request = EngineCheckRequest(loaded.task, loaded.model_ref)
        job = submit.submit_job(ENGINE_CHECK_KIND, request, request.write_input, owner, settings)
        pending = _pending_file(loaded.task, folder, settings)
        pending.parent.mkdir(parents=True, exist_ok=True)
        pending.write_text(job.id, encoding="utf-8")
        return job
    except ShowcaseError as error:
        _LOG.warning("The engine check of %s was not queued: %s", loaded.model_ref, error.message)
        return None


def run_engine_check(request: EngineCheckRequest, job: Job, reporter: Reporter, settings: Settings) -> JobResult:
    """Run a queued check (the worker calls this through ``ENGINE_CHECK_HANDLER``): the decision
    is recorded in the state folder and copied into the run folder.

    Raises:
        JobCancelled: a stop was asked for while a path ran (nothing is recorded).
        ShowcaseError: the model cannot be checked here, or float32 itself failed.
    """

    def progress(done: int, total: int, label: str) -> None:
        if label:
            reporter.log(_("Checking {path}").format(path=label))
        reporter.progress(done, total, 0.0, force=True)

    decision = path_check.check_model(
        request.task, request.model_ref, settings, progress=progress, should_stop=reporter.should_stop
    )
    (Path(job.run_dir) / DECISION_FILE).write_text(json.dumps(decision.to_dict(), indent=1), encoding="utf-8")
    for result in decision.results:
        verdict = result.agreement if result.passed else result.reason
        reporter.log(f"{result.path}: {'passed' if result.passed else 'failed'}, x{result.speedup:.2f}, {verdict}")
    chosen = decision.result(decision.chosen)
    metrics = {"chosen": decision.chosen, "speedup": chosen.speedup if chosen else 0.0}
    return metrics, {"decision": str(Path(job.run_dir) / DECISION_FILE)}


def read_decision(job: Job) -> engine_record.EngineDecision | None:
    """A finished check's decision, from its run folder."""
    try:
        data = json.loads((Path(job.run_dir) / DECISION_FILE).read_text(encoding="utf-8"))
        return engine_record.EngineDecision.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


ENGINE_CHECK_HANDLER = model_request_handler(
    EngineCheckRequest,
    run_engine_check,
    "The engine check",
    "decision",
    "Unload other models first, or set LSM_CPU_ENGINE=torch",
    "Checking",
)


def _check_submission(request: EngineCheckRequest, owner: str, settings: Settings) -> None:
    check_job_model(request.task, request.model_ref, owner, settings)


ENGINE_CHECK_KIND = model_request_kind(
    ENGINE_CHECK, N_("engine check"), ENGINE_CHECK_HANDLER, EngineCheckRequest, _check_submission, (INPUT_FILE,)
)
