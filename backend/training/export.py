"""Download of a finished model as one zip: weights, tokenizer/processor, labels, model card, report."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.run_records import PARAMS_FILE
from backend.jobs.store import SUCCEEDED, Job
from backend.models.engines import runtimes
from backend.training.common import MODEL_FOLDER
from backend.training.evaluation import EVALUATION_FILE

EXPORT_FOLDER = "export"


def export_name(job: Job) -> str:
    """A safe file name for the zip, from the job's title."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", job.title or "model").strip("-.")[:60] or "model"
    return f"{slug}-{job.id}.zip"


def build_export_zip(run_dir: Path, file_name: str, members: Iterable[tuple[Path, str]], settings: Settings) -> Path:
    """Build (once) and return ``file_name`` in the run's export folder: one folder named after the
    zip holding each ``(file, name in that folder)`` of ``members``, read only when the zip is built.

    Raises:
        InvalidInputError: ``run_dir`` is outside the runs folder.
    """
    if settings.runs_dir.resolve() not in run_dir.parents:
        raise InvalidInputError(_("This job's folder is outside the runs folder; refusing to read it."))
    target = run_dir / EXPORT_FOLDER / file_name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    folder = target.stem
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in members:
            archive.write(path, f"{folder}/{name}")
    # Renamed only when complete, so a crash never leaves a truncated zip to be served later.
    partial.replace(target)
    return target


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
        raise InvalidInputError(_("This job has no finished model to download."))
    return build_export_zip(run_dir, export_name(job), _model_files(run_dir, model_dir), settings)


def _model_files(run_dir: Path, model_dir: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(model_dir.rglob("*")):
        # An engine's cached copy (LSM_CPU_ENGINE) is rebuilt from the weights wherever it is needed.
        if runtimes.CACHE_FOLDER in path.relative_to(model_dir).parts:
            continue
        if path.is_file() and not path.is_symlink():
            yield path, path.relative_to(model_dir).as_posix()
    for extra in (PARAMS_FILE, EVALUATION_FILE):
        if (run_dir / extra).is_file():
            yield run_dir / extra, extra
