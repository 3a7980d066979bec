"""Which models each engine can take, answered from config.json alone, before any conversion: an
engine that cannot run an architecture is skipped with the reason (by the path check, which then
starts no process for it, and by the loader, which loads the model in torch), instead of failing
inside its converter with a message about a folder that "could not be read"."""

from __future__ import annotations

import json
from pathlib import Path

from backend.i18n import _
from backend.models.resolve import engine_choice

# What CTranslate2's converter turns into a model that our translator wrapper runs (seen in
# tests/backend/models/test_architectures.py); mBART's converter fails on this transformers.
CTRANSLATE2_MODEL_TYPES = ("marian", "m2m_100", "t5", "mt5")


def refusal(engine: str, folder: Path) -> str:
    """Why ``engine`` cannot run the model in ``folder`` ("" when it may: its check decides)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = None
    if not isinstance(config, dict):
        return _("its config.json cannot be read")
    model_type = str(config.get("model_type") or "?")
    if engine == engine_choice.LLAMA_CPP:
        from backend.models.engines.llama_cpp_engine import UnsupportedModel, gguf_architecture

        try:
            gguf_architecture(config)
        except UnsupportedModel as error:
            return _("llama.cpp does not run this model ({reason})").format(reason=error)
    if engine == engine_choice.CTRANSLATE2 and model_type not in CTRANSLATE2_MODEL_TYPES:
        return _("CTranslate2 does not run {model_type!r} models here").format(model_type=model_type)
    return ""
