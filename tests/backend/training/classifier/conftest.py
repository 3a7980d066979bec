"""The classifier tests' made-up base models, "downloaded": the fine-tuning gate only queues a base
that can be had now, and the test session runs without the hub."""

from __future__ import annotations

import shutil

import pytest

from backend.models.resolve import catalogue
from backend.models.resolve.plan import mirror_folder

# The hub ids these tests submit with, and the tiny model each one's mirror folder holds.
MADE_UP_BASES = {"org/sentence-model": catalogue.EMBEDDINGS, "org/vit": catalogue.IMAGE_CLASSIFIER_BASE}


@pytest.fixture
def made_up_bases_downloaded(settings, tiny_models_dir):
    made = []
    for hub_id, task in MADE_UP_BASES.items():
        folder = mirror_folder(hub_id, settings)
        if not folder.exists():
            shutil.copytree(tiny_models_dir[task], folder)
            made.append(folder)
    yield
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)
