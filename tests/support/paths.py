"""Folders tests refer to. Test modules import this, never ``conftest`` (several exist)."""

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = TESTS_DIR.parent
