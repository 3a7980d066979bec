"""Checked image zips: kept in staging after Check data, moved (not re-checked) into the run on Start."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from backend.errors import InvalidInputError
from backend.jobs.store import JobStore
from backend.training.classifier import staging
from backend.training.classifier import studio as classifier_studio
from backend.training.classifier.datasets import Examples, PreparedDataset
from backend.training.classifier.params import FAST, TrainingParams
from backend.training.common import DATA_FOLDER
from tests.support.training_data import colour_folders_zip, image_zip

pytestmark = pytest.mark.usefixtures("made_up_bases_downloaded")

PARAMS = TrainingParams("image", FAST, "org/vit", title="Colours")


def _staged(local) -> list[Path]:
    root = local.state_dir / staging.STAGING_FOLDER
    return sorted(root.iterdir()) if root.is_dir() else []


def test_checked_images_are_moved_into_the_run_and_submitted_once(local):
    prepared = staging.check_image_data("colours.zip", colour_folders_zip(per_class=6), settings=local)
    [folder] = _staged(local)
    assert staging.is_staged(prepared, local)
    job = classifier_studio.submit_image_job(PARAMS, prepared, owner="ann", settings=local)
    assert _staged(local) == [] and not staging.is_staged(prepared, local)
    data_dir = Path(job.run_dir) / DATA_FOLDER
    stored = PreparedDataset.load(data_dir)
    assert stored.classes == prepared.classes and stored.train.inputs == prepared.train.inputs
    assert all((data_dir / path).is_file() for path in stored.train.inputs + stored.validation.inputs)
    assert not folder.exists()
    with pytest.raises(InvalidInputError, match="no longer available"):
        classifier_studio.submit_image_job(PARAMS, prepared, owner="ann", settings=local)
    assert [j.id for j in JobStore(settings=local).list_jobs()] == [job.id]


def test_a_refused_zip_leaves_nothing_in_staging(local):
    with pytest.raises(InvalidInputError, match="outside its folder"):
        staging.check_image_data("slip.zip", image_zip({"../../evil.png": b"x", "red/1.png": b"y"}), settings=local)
    assert _staged(local) == []


def test_only_a_staged_folder_is_moved_or_removed(local, tmp_path):
    prepared = staging.check_image_data("colours.zip", colour_folders_zip(per_class=6), settings=local)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    foreign = PreparedDataset(prepared.task, prepared.classes, prepared.train, prepared.validation)
    foreign.data_dir = str(elsewhere)
    with pytest.raises(InvalidInputError, match="no longer available"):
        classifier_studio.submit_image_job(PARAMS, foreign, settings=local)
    staging.discard_staged(foreign, local)
    assert elsewhere.is_dir()
    staging.discard_staged(prepared, local)
    assert _staged(local) == []
    assert JobStore(settings=local).list_jobs() == []


def test_abandoned_checks_are_removed_by_a_later_check_after_a_day(local):
    staging.check_image_data("colours.zip", colour_folders_zip(per_class=6), settings=local)
    [old] = _staged(local)
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    staging.check_image_data("colours.zip", colour_folders_zip(per_class=6), settings=local)
    [new] = _staged(local)
    assert new != old and not old.exists()


def test_text_data_is_not_accepted_as_images(local):
    text = PreparedDataset("text", ["a", "b"], Examples(["x"], [0]), Examples(["y"], [1]))
    with pytest.raises(InvalidInputError, match="not for image classification"):
        classifier_studio.submit_image_job(PARAMS, text, settings=local)
