"""Local models the user owns: fine-tuned models recorded by their jobs, and hand-placed folders.

A fine-tuned model is *recorded*, not discovered: its succeeded job in the job store names it
(artefacts ``model_dir`` and ``model_task``), and the demos list those jobs for their owner. Nothing
under the run folders is scanned, so an uploaded file can never pose as a model.

A folder dropped into the models folder by hand announces itself with a ``showcase.json`` beside its
``config.json`` (only the folder's direct children are looked at):
``{"task": "sentiment", "title": "...", "created": "...", "metrics": {...}, "owner": "..."}``.
The fine-tuning studio writes one into every model it saves, so a downloaded model placed there
is listed too.

A model's reference stays its folder path (the loader and cache key on it), but users see
``LocalModel.label`` / ``display_name``: its title and job id, never a server path.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from backend.config import Settings, get_settings
from backend.i18n import _
from backend.input_language import handles
from backend.jobs.store import Job, JobStore
from backend.models.fetch import download
from backend.models.resolve import catalogue, endpoints, engine_record

MANIFEST = "showcase.json"


@dataclass(frozen=True)
class LocalModel:
    """A local model folder usable as a model reference (``path``).

    ``job_id`` is the job that trained it; empty for a hand-placed folder.
    """

    task: str
    title: str
    path: str
    created: str
    owner: str
    metrics: dict[str, float]
    job_id: str = ""

    @property
    def label(self) -> str:
        """What users see: the title and the job id (or the folder name of a hand-placed model)."""
        return f"{self.title} · {self.job_id or Path(self.path).name}"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def write_manifest(
    folder: Path,
    task: str,
    title: str,
    created: str,
    owner: str = "",
    metrics: dict[str, float] | None = None,
    system_prompt: str | None = None,
) -> Path:
    """Mark ``folder`` as a model of ``task`` so the demos list it; a chat model records the
    system prompt it was trained with ("" for none), which the chat demo starts from."""
    path = folder / MANIFEST
    payload = {"task": task, "title": title, "created": created, "owner": owner, "metrics": metrics or {}}
    if system_prompt is not None:
        payload["system_prompt"] = system_prompt
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _read_manifest(manifest: Path) -> LocalModel | None:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("task"), str):
        return None
    if not (manifest.parent / "config.json").is_file():
        return None
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    return LocalModel(
        task=data["task"],
        title=str(data.get("title") or manifest.parent.name),
        path=str(manifest.parent.resolve()),
        created=str(data.get("created", "")),
        owner=str(data.get("owner", "")),
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
    )


def _recorded(task: str, owner: str | None, settings: Settings) -> list[LocalModel]:
    """Models of ``task`` that the owner's succeeded jobs recorded (a deleted folder is skipped)."""
    found = []
    for job in JobStore(settings=settings).list_models(task, owner):
        path = str(job.artefacts["model_dir"])
        if not (Path(path) / "config.json").is_file():
            continue
        created = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(job.finished or job.created))
        metrics = {k: float(v) for k, v in job.metrics.items() if isinstance(v, int | float)}
        found.append(LocalModel(task, job.title or "Untitled", path, created, job.owner, metrics, job.id))
    return found


def _hand_placed(task: str, owner: str | None, settings: Settings) -> list[LocalModel]:
    """Folders directly inside the models folder whose manifest names ``task``."""
    if not settings.models_dir.is_dir():
        return []
    found = []
    for manifest in settings.models_dir.glob(f"*/{MANIFEST}"):
        model = _read_manifest(manifest)
        if model and model.task == task and (owner is None or model.owner in ("", owner)):
            found.append(model)
    return found


def list_local_models(task: str, owner: str | None = None, settings: Settings | None = None) -> list[LocalModel]:
    """Local models of ``task``: the owner's fine-tuned models, newest first, then hand-placed ones.

    Args:
        task: catalogue task name (fine-tuned text classifiers are recorded under ``sentiment``,
            the demo that runs them).
        owner: when given, only this owner's fine-tuned models and hand-placed models of this
            owner or with no owner (shared).
        settings: settings to use.
    """
    settings = settings or get_settings()
    hand_placed = sorted(_hand_placed(task, owner, settings), key=lambda m: m.created, reverse=True)
    return _recorded(task, owner, settings) + hand_placed


def display_name(model_ref: str, settings: Settings | None = None) -> str:
    """How a model reference is shown: a fine-tuned model as its title and job id, a hand-placed
    folder by its name inside the models folder, an endpoint as its served model and its name,
    anything else (a hub id) as it is.
    """
    settings = settings or get_settings()
    try:
        variant = engine_record.parse_variant_ref(model_ref)
    except KeyError:
        variant = None
    if variant is not None:  # a compression lab's variant: its model, then which variant
        return f"{display_name(variant[1], settings)} ({_(variant[0].label)})"
    if endpoints.is_endpoint_ref(model_ref):
        endpoint = endpoints.find_endpoint(model_ref, settings)
        return f"{endpoints.shown_model(endpoint, settings)} ({endpoint.name})" if endpoint else model_ref
    path = Path(model_ref)
    if not path.is_absolute():
        return model_ref
    for root in (settings.runs_dir, settings.models_dir):
        try:
            relative = path.resolve().relative_to(root.resolve())
        except (OSError, ValueError):
            continue
        if not relative.parts:
            break
        if root == settings.runs_dir:
            job = JobStore(settings=settings).get(relative.parts[0])
            return f"{job.title or 'Untitled'} · {job.id}" if job else relative.parts[0]
        return str(relative)
    return path.name


def tuned_job_of(task: str, model_ref: str, owner: str | None = None, settings: Settings | None = None) -> Job | None:
    """The owner's succeeded job that made the fine-tuned model ``model_ref`` of ``task``; None for
    anything else (a catalogue model, a folder)."""
    settings = settings or get_settings()
    if not model_ref or not Path(model_ref).is_absolute():
        return None
    wanted = Path(model_ref).resolve()
    for job in JobStore(settings=settings).list_models(task, owner):
        if Path(str(job.artefacts["model_dir"])).resolve() == wanted:
            return job
    return None


def trained_system_prompt_of(
    task: str, model_ref: str, owner: str | None = None, settings: Settings | None = None
) -> str | None:
    """The system prompt the owner's tuned chat model ``model_ref`` was trained with ("" for
    none); None for any other model, or one tuned before the prompt was recorded."""
    job = tuned_job_of(task, model_ref, owner, settings)
    if job is None:
        return None
    try:
        data = json.loads((Path(str(job.artefacts["model_dir"])) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    prompt = data.get("system_prompt") if isinstance(data, dict) else None
    return prompt if isinstance(prompt, str) else None


def base_model_of(task: str, model_ref: str, owner: str | None = None, settings: Settings | None = None) -> str | None:
    """The base model a fine-tuned model of ``task`` was tuned from (its job's ``base_model``
    artefact), for the owner's own models; None for anything else (a catalogue model, a folder).

    The demos use it to offer "compare with base": the base reference is then checked and loaded
    like any model a user picks.
    """
    job = tuned_job_of(task, model_ref, owner, settings)
    base = job.artefacts.get("base_model") if job is not None else None
    return base if isinstance(base, str) and base else None
    wanted = Path(model_ref).resolve()
    for job in JobStore(settings=settings).list_models(task, owner):
        base = job.artefacts.get("base_model")
        if isinstance(base, str) and base and Path(str(job.artefacts["model_dir"])).resolve() == wanted:
            return base
    return None


def languages_of(
    task: str, model_ref: str, owner: str | None = None, settings: Settings | None = None
) -> tuple[str, ...]:
    """The languages a model handles: a catalogue model's (by hub id or its mirror folder), a
    fine-tuned model's base's; () when unknown (a hand-placed folder, a server)."""
    settings = settings or get_settings()
    for _step in range(3):  # a model tuned from a tuned model: follow the bases a few steps
        name = Path(model_ref).name if Path(model_ref).is_absolute() else model_ref
        for spec in catalogue.CATALOGUE:
            if model_ref == spec.hub_id or name == spec.hub_id.replace("/", "--"):
                return spec.languages
        base = base_model_of(task, model_ref, owner, settings) if model_ref else None
        if base is None:
            return ()
        model_ref = base
    return ()


def downloaded_model_for(task: str, language: str, settings: Settings | None = None) -> str | None:
    """The first catalogue model of ``task`` that handles ``language`` and is downloaded here
    (the demos run an example in a language their picked model lacks on it); None if none is."""
    settings = settings or get_settings()
    for spec in catalogue.models_for(task):
        if spec.languages and handles(spec.languages, language) and download.is_downloaded(spec.hub_id, settings):
            return spec.hub_id
    return None
