"""Image zips that *Check data* extracted and checked, waiting for *Start training*.

Checking a zip extracts every image and opens it, which is the slow part; the result is kept in a
staging folder so that submitting moves the folder into the run instead of doing it all again.
A staged folder is used once (submitting moves it); folders nobody submitted are removed when
their session checks other data, or by any later check once they are a day old.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import replace
from pathlib import Path

from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.training.classifier.datasets import PreparedDataset
from backend.training.classifier.image_data import prepare_image_dataset

STAGING_FOLDER = "checked"
# Long enough for a user to look at the check and press Start; short enough that abandoned
# checks (up to MAX_UNZIPPED_BYTES each) do not fill the disk.
_STAGED_MAX_AGE_S = 24 * 3600


def _staging_root(settings: Settings) -> Path:
    return (settings.state_dir / STAGING_FOLDER).resolve()


def _remove_old(root: Path) -> None:
    if not root.is_dir():
        return
    cutoff = time.time() - _STAGED_MAX_AGE_S
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # removed meanwhile by another session's check


def _staged_folder(prepared: PreparedDataset, settings: Settings) -> Path | None:
    # The folder comes from the session; only a folder directly inside the staging root counts.
    folder = Path(prepared.data_dir).resolve() if prepared.data_dir else None
    if folder is None or folder.parent != _staging_root(settings) or not folder.is_dir():
        return None
    return folder


def check_image_data(
    name: str, data: bytes, validation_fraction: float = 0.2, seed: int = 42, settings: Settings | None = None
) -> PreparedDataset:
    """Run every pre-training check on an image zip and keep the extracted images for submitting.

    Args:
        name: the uploaded file's name.
        data: the zip's bytes.
        validation_fraction: stratified held-out share (the job's parameter).
        seed: random seed of the split (the job's parameter).
        settings: settings to use (default: the process settings).

    Returns:
        The checked, split data; its ``data_dir`` is the staging folder, which
        ``jobs.submit_image_job`` moves into the run.

    Raises:
        InvalidInputError: the archive or its images fail a check (nothing is kept).
    """
    settings = settings or get_settings()
    root = _staging_root(settings)
    _remove_old(root)
    folder = root / uuid.uuid4().hex
    try:
        return prepare_image_dataset(name, data, folder, validation_fraction, seed)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def is_staged(prepared: PreparedDataset, settings: Settings | None = None) -> bool:
    """Whether ``prepared``'s images still wait in staging (not yet submitted, not removed)."""
    return _staged_folder(prepared, settings or get_settings()) is not None


def move_staged(prepared: PreparedDataset, data_dir: Path, settings: Settings | None = None) -> PreparedDataset:
    """Move checked images into a run's data folder; returns the dataset pointing there.

    Raises:
        InvalidInputError: the images were already submitted or removed (check the data again).
    """
    folder = _staged_folder(prepared, settings or get_settings())
    if folder is None:
        raise InvalidInputError(_("The checked images are no longer available."), _("Press Check data again."))
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(folder, data_dir)
    return replace(prepared, data_dir=str(data_dir))


def discard_staged(prepared: PreparedDataset, settings: Settings | None = None) -> None:
    """Remove checked images nobody will submit (does nothing once they were submitted)."""
    folder = _staged_folder(prepared, settings or get_settings())
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
