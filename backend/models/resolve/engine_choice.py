"""Which engine and which number format a task runs in: the table the resolver reads.

The resolver (``plan``) decides a model's engine and int8 use before anything loads, so it must
not import the engines themselves (each pulls in its runtime: ONNX Runtime, CTranslate2,
llama.cpp, torch's quantisation). This module holds only the names, the task table and the
settings' reading; ``backend.models.engines.runtimes`` and ``backend.models.load.quantize`` build on it.
"""

from __future__ import annotations

from pathlib import Path

from backend import optional
from backend.config import Settings
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo

TORCH = "torch"
ONNX = "onnx"
CTRANSLATE2 = "ctranslate2"
LLAMA_CPP = "llama.cpp"
# The setting's default: each model runs on the fastest path its check passed on this machine
# (``engine_record``); ``torch`` (or an empty setting) turns that off.
AUTO = "auto"
# What each engine serves (a task not listed runs in torch).
ENGINE_TASKS = {
    ONNX: (catalogue.SENTIMENT,),
    CTRANSLATE2: (catalogue.TRANSLATION,),
    LLAMA_CPP: (catalogue.TEXT_GENERATION,),
}
PACKAGES = {ONNX: "onnxruntime", CTRANSLATE2: "ctranslate2", LLAMA_CPP: "llama-cpp-python"}
# A fast-mode fine-tune (an encoder plus a linear head) carries this file; it runs in torch only.
EMBEDDING_HEAD_FILE = "embedding_head.json"

INT8 = "int8"
INT8_CHOICES = ("none", INT8)
# The demo tasks the benchmark measured; embeddings and fine-tuning bases stay in float.
INT8_TASKS = (catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.IMAGE_CLASSIFICATION, catalogue.TEXT_GENERATION)
# Of those, the ones whose int8 is weight-only (see ``load.quantize``), loaded at their float dtype's activations.
WEIGHT_ONLY_TASKS = (catalogue.TEXT_GENERATION,)


def requested_engines(setting: str) -> dict[str, str]:
    """Task -> engine from the ``cpu_engine`` setting; unknown words are ignored (torch)."""
    chosen: dict[str, str] = {}
    for part in (setting or "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        task, _, engine = part.rpartition("=")
        tasks = [task.strip()] if task else list(ENGINE_TASKS.get(engine.strip(), ()))
        for name in tasks:
            if name in ENGINE_TASKS.get(engine.strip(), ()):
                chosen[name] = engine.strip()
    return chosen


def is_auto(task: str, settings: Settings) -> bool:
    """Whether ``task`` follows its check's decision: the setting says ``auto`` and forces no
    engine on it (``auto,sentiment=onnx`` forces sentiment and checks the rest)."""
    words = {part.strip().lower() for part in (settings.cpu_engine or "").split(",")}
    return AUTO in words and task not in requested_engines(settings.cpu_engine)


def engine_for(task: str, device: DeviceInfo, settings: Settings, folder: Path | None) -> str:
    """The engine ``task`` runs on: the setting's choice where it applies, else torch."""
    if device.kind != "cpu" or folder is None:
        return TORCH
    engine = requested_engines(settings.cpu_engine).get(task, TORCH)
    if engine != TORCH and not available(engine):  # the log names the requirement file; torch answers
        optional.warn_missing(PACKAGES[engine], f"LSM_CPU_ENGINE's {engine} engine for {task}")
    if engine == TORCH or not available(engine):
        return TORCH
    return TORCH if (folder / EMBEDDING_HEAD_FILE).is_file() else engine


def available(engine: str) -> bool:
    """Whether the engine's package is installed."""
    return engine in PACKAGES and optional.is_installed(PACKAGES[engine])


def wants_int8(task: str, device: DeviceInfo, settings: Settings) -> bool:
    """Whether ``task`` is loaded with int8 Linear layers: CPU only, and only when set."""
    return device.kind == "cpu" and settings.cpu_quantize == INT8 and task in INT8_TASKS
