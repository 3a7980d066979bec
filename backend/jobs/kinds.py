"""A job kind: what the generic job machinery needs to know about one kind of job.

Each kind is declared once, beside the code that runs it (``training.classifier.studio``,
``training.chat.studio``, ``inference.batch``), and ``backend/worker.py`` is the one place that
lists them all. The machinery reads a kind's fields and never its task: the worker runs a job
with its kind's ``handler``; ``submit`` runs its kind's ``check`` before anything is written and
copies its ``input_paths`` when it is retried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, Self, TypeVar

from backend.config import Settings, get_settings
from backend.jobs.progress import ProgressCallback, Reporter
from backend.jobs.store import Job
from backend.jobs.worker import Handlers, JobHandler

JobResult = tuple[dict[str, Any], dict[str, Any]]
"""What a job's run returns: its metrics and its artefacts."""


class JobParams(Protocol):
    """A kind's parameters as submission stores them (``TrainingParams``, ``ChatTuneParams``,
    ``BatchRequest``): the store's columns and the JSON written as ``params.json``."""

    @property
    def task(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def base_model(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ModelRequest:
    """The parameters of a kind that runs one model as it is (batch runs, engine checks, the
    compression lab, measurements): ``JobParams`` written once for all of them. A subclass adds
    its own fields after ``task`` and ``model_ref`` and names its ``title``."""

    task: str
    model_ref: str

    @property
    def title(self) -> str:
        """The job's title (each kind names its own)."""
        return self.model_ref

    @property
    def base_model(self) -> str:
        """The model the job runs."""
        return self.model_ref

    @property
    def method(self) -> str:
        """Such a job trains nothing, so it has no training method."""
        return ""

    def to_dict(self) -> dict[str, Any]:
        """The job's stored parameters."""
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Self:
        """The request stored by ``to_dict``; keys it does not know (the job's language) are left out."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in params.items() if name in names})


_Request = TypeVar("_Request", bound=ModelRequest)


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    Attributes:
        name: the store's ``kind`` column, e.g. ``train``.
        noun: how messages name one job of this kind, e.g. "training job".
        handler: how the worker runs it.
        check: ``check(params, owner, settings)``, every check before anything is written or
            queued: the parameters, and the base-model gate (the model can load here, and the
            owner may use it). Raises ``ShowcaseError``.
        load_params: the stored ``Job.params`` back as the kind's parameters (for a retry).
        input_record: the run-folder file without which a job's input is gone.
        input_paths: the run-folder files and folders that hold a job's input; a retry copies
            those that exist into the new run folder.
    """

    name: str
    noun: str
    handler: JobHandler
    check: Callable[[Any, str, Settings], object]
    load_params: Callable[[dict[str, Any]], JobParams]
    input_record: str
    input_paths: tuple[str, ...]


def model_request_handler(
    request_type: type[_Request],
    run: Callable[[_Request, Job, Reporter, Settings], JobResult],
    doing: str,
    output: str,
    memory_advice: str,
    phase: str,
    cleanup: Callable[[Job], None] = lambda job: None,
) -> JobHandler:
    """How the worker runs a ``ModelRequest`` kind (``JobHandler``; the words are its fields):
    ``run(request, job, reporter, settings)`` gets the stored request read back, a ``Reporter``
    over the worker's callbacks and the settings, so each kind writes only what it does."""

    def run_job(
        job: Job,
        progress_callback: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        settings: Settings | None = None,
    ) -> JobResult:
        request = request_type.from_params(job.params)
        return run(request, job, Reporter(progress_callback, should_stop), settings or get_settings())

    return JobHandler(run_job, doing, output, memory_advice, phase, cleanup)


def model_request_kind(
    name: str,
    noun: str,
    handler: JobHandler,
    request_type: type[ModelRequest],
    check: Callable[[Any, str, Settings], object],
    input_paths: tuple[str, ...],
) -> JobKind:
    """The ``JobKind`` of a ``ModelRequest`` kind: a retry reads its parameters back with
    ``request_type.from_params``, and its input is gone when the first of ``input_paths`` is."""
    return JobKind(name, noun, handler, check, request_type.from_params, input_paths[0], input_paths)


def handlers_of(kinds: Iterable[JobKind]) -> Handlers:
    """The worker's table: each kind's name to its handler."""
    return {kind.name: kind.handler for kind in kinds}
