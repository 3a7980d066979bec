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
from dataclasses import dataclass
from typing import Any, Protocol, Self

from backend.config import Settings
from backend.jobs.worker import Handlers, JobHandler
from backend.records import JsonRecord


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


class ModelRunRequest(JsonRecord):
    """What a kind that runs a model as it is (batch inference, an engine check, a measurement)
    stores as its parameters: a frozen dataclass with a ``model_ref`` field and its own ``title``.
    The store's ``base_model`` is that model, there is no training method, and the stored JSON is
    the dataclass's fields, read back ignoring any it no longer has."""

    model_ref: str

    @property
    def base_model(self) -> str:
        """The model the job runs."""
        return self.model_ref

    @property
    def method(self) -> str:
        """A job that runs a model as it is has no training method."""
        return ""

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Self:
        """The request stored by ``to_dict``."""
        names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{name: value for name, value in params.items() if name in names})


def handlers_of(kinds: Iterable[JobKind]) -> Handlers:
    """The worker's table: each kind's name to its handler."""
    return {kind.name: kind.handler for kind in kinds}
