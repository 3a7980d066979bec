"""Download of a finished model as one zip: weights, tokenizer/processor, labels, model card, report."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.jobs.store import SUCCEEDED, Job
from backend.models import engines
from backend.training.evaluation import EVALUATION_FILE
from backend.training.params import PARAMS_FILE
from backend.training.runner import MODEL_FOLDER

EXPORT_FOLDER = "export"


def export_name(job: Job) -> str:
    """A safe file name for the zip, from the job's title."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", job.title or "model").strip("-.")[:60] or "model"
    return f"{slug}-{job.id}.zip"


def export_model_zip(job: Job, settings: Settings | None = None) -> Path:
    """Build (once) and return the zip of a succeeded job's model folder.

    The zip unpacks to one folder loadable with transformers' Auto classes (or, for fast-mode
    text models, the showcase's loader), plus ``params.json`` and ``evaluation.json``.

    Raises:
        InvalidInputError: the job has not succeeded or its model folder is gone.
    """
    settings = settings or get_settings()
    run_dir = Path(job.run_dir).resolve()
    model_dir = run_dir / MODEL_FOLDER
    if job.status != SUCCEEDED or not (model_dir / "config.json").is_file():
        raise InvalidInputError("This job has no finished model to download.")
    if settings.runs_dir.resolve() not in run_dir.parents:
        raise InvalidInputError("This job's folder is outside the runs folder; refusing to read it.")
    target = run_dir / EXPORT_FOLDER / export_name(job)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    folder = target.stem
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(model_dir.rglob("*")):
            # An engine's cached copy (LSM_CPU_ENGINE) is rebuilt from the weights wherever it is needed.
            if engines.CACHE_FOLDER in path.relative_to(model_dir).parts:
                continue
            if path.is_file() and not path.is_symlink():
                archive.write(path, f"{folder}/{path.relative_to(model_dir).as_posix()}")
        for extra in (PARAMS_FILE, EVALUATION_FILE):
            if (run_dir / extra).is_file():
                archive.write(run_dir / extra, f"{folder}/{extra}")
    # Renamed only when complete, so a crash never leaves a truncated zip to be served later.
    partial.replace(target)
    return target
