"""The checked paths of a model on this machine: which ways of running it exist, and what the
background check (``backend.models.path_check``) decided, kept in the state folder.

With the engine setting at ``auto`` (the default), a model loads on the fastest path that passed
its check here; until one has, on torch as without the setting. A decision belongs to one model
(its folder and its weight files' sizes and times) on one machine (CPU model, the instruction sets
that change which kernels run, the versions of torch and the engines): a new CPU, a new torch or
new weights make it stale, and the model is checked again. Only names, JSON and the machine's
description live here, so the resolver (``plan``) reads a decision without loading any engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import uuid
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.i18n import N_, _
from backend.models.resolve import catalogue, engine_choice
from backend.records import JsonRecord

DECISIONS_FOLDER = "engine-decisions"


@dataclass(frozen=True)
class CandidatePath:
    """One way of running a model: its engine, the dtype its weights load in, and int8 or not."""

    name: str
    label: str  # marked with N_: translated where shown
    engine: str = engine_choice.TORCH
    dtype: str = "float32"
    int8: bool = False
    # llama.cpp's quantisation of its GGUF copy when it is not the engine's own 8-bit one ("Q4_K_M").
    gguf_type: str = ""


TORCH_FLOAT32 = CandidatePath("torch-float32", N_("torch float32"))
TORCH_BFLOAT16 = CandidatePath("torch-bfloat16", N_("torch bfloat16"), dtype="bfloat16")
DYNAMIC_INT8 = CandidatePath("int8-dynamic", N_("torch dynamic int8"), int8=True)
# Weight-only int8 keeps bfloat16 activations (the benchmark's chat int8 path).
WEIGHT_ONLY_INT8 = CandidatePath("int8-weight-only", N_("torch weight-only int8"), dtype="bfloat16", int8=True)
ONNX_RUNTIME = CandidatePath("onnx", N_("ONNX Runtime"), engine=engine_choice.ONNX)
# ONNX Runtime's dynamic int8 (MatMul weights int8, activations quantised per request).
ONNX_INT8 = CandidatePath("onnx-int8", N_("ONNX Runtime int8"), engine=engine_choice.ONNX, int8=True)
CTRANSLATE2 = CandidatePath("ctranslate2", N_("CTranslate2"), engine=engine_choice.CTRANSLATE2)
LLAMA_CPP = CandidatePath("llama.cpp", N_("llama.cpp (8-bit)"), engine=engine_choice.LLAMA_CPP)
# The 4-bit GGUF copy (llama.cpp's K-quants, "medium" mix), made from the 8-bit one. The compression
# lab measures it; the engine check does not offer it to ``auto``, whose bound (the same next token at
# 90% of positions) a 4-bit copy of a small model rarely meets.
LLAMA_CPP_Q4_K_M = CandidatePath(
    "gguf-q4_k_m", N_("llama.cpp GGUF Q4_K_M (4-bit)"), engine=engine_choice.LLAMA_CPP, gguf_type="Q4_K_M"
)
PATHS = {path.name: path for path in (TORCH_FLOAT32, TORCH_BFLOAT16, DYNAMIC_INT8, WEIGHT_ONLY_INT8,
                                      ONNX_RUNTIME, ONNX_INT8, CTRANSLATE2, LLAMA_CPP, LLAMA_CPP_Q4_K_M)}  # fmt: skip
# A compressed variant of a model as a model reference (``variant:<path>:<model reference>``): the
# model loaded on that path whatever the engine settings say, so a Compare column can hold it.
VARIANT_PREFIX = "variant:"

# What each task can run on. Embeddings stay float32 and torch: their vectors are stored and
# compared with later ones (the use-case index, fast-mode features), so they must not drift.
# The loader quantises chat weight-only and the others dynamically, so each task has one int8.
TASK_PATHS: dict[str, tuple[CandidatePath, ...]] = {
    catalogue.SENTIMENT: (TORCH_FLOAT32, TORCH_BFLOAT16, DYNAMIC_INT8, ONNX_RUNTIME, ONNX_INT8),
    catalogue.IMAGE_CLASSIFICATION: (TORCH_FLOAT32, TORCH_BFLOAT16, DYNAMIC_INT8),
    catalogue.TRANSLATION: (TORCH_FLOAT32, TORCH_BFLOAT16, DYNAMIC_INT8, CTRANSLATE2),
    catalogue.TEXT_GENERATION: (TORCH_FLOAT32, TORCH_BFLOAT16, WEIGHT_ONLY_INT8, LLAMA_CPP),
}


def variant_ref(path_name: str, model_ref: str) -> str:
    """The reference that loads ``model_ref`` as its ``path_name`` variant."""
    return f"{VARIANT_PREFIX}{path_name}:{model_ref}"


def parse_variant_ref(model_ref: str) -> tuple[CandidatePath, str] | None:
    """A variant reference's path and model reference; None for any other reference.

    Raises:
        KeyError: the reference names no variant this app makes.
    """
    ref = (model_ref or "").strip()
    if not ref.startswith(VARIANT_PREFIX):
        return None
    name, _separator, inner = ref[len(VARIANT_PREFIX) :].partition(":")
    return PATHS[name], inner


# What a variant reference may name per task: the checked paths, and for chat the 4-bit GGUF copy.
VARIANT_PATHS: dict[str, tuple[CandidatePath, ...]] = {
    **TASK_PATHS,
    catalogue.TEXT_GENERATION: (*TASK_PATHS[catalogue.TEXT_GENERATION], LLAMA_CPP_Q4_K_M),
}


@cache
def machine() -> dict[str, str]:
    """This machine as a check depends on it: the CPU, the instruction sets that pick torch's and
    the engines' kernels, and the versions of everything that computes."""
    import torch

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni") if flag in flags]
    versions = {"torch": torch.__version__}
    for package in engine_choice.PACKAGES.values():
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    # Kernels capped by the environment (an AVX2 run on an AMX machine) are another machine.
    capped = [
        f"{name}={os.environ[name]}" for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if os.environ.get(name)
    ]
    return {
        "cpu": model,
        "isa": " ".join(isa + capped) or platform.machine(),
        "threads": str(torch.get_num_threads()),
        "versions": ", ".join(f"{name} {version}" for name, version in sorted(versions.items())),
    }


def _machine_key() -> str:
    return hashlib.sha256(json.dumps(machine(), sort_keys=True).encode()).hexdigest()[:16]


def model_key(task: str, folder: Path) -> str:
    """The decision's file name for ``task`` on the model in ``folder`` on this machine: new
    weights (a file's size or time) or a new machine mean a new key, so a new check."""
    weights = sorted([f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in folder.glob("*.safetensors"))
    identity = json.dumps([task, str(folder.resolve()), weights, _machine_key()])
    return f"{task}-{folder.name[:60]}-{hashlib.sha256(identity.encode()).hexdigest()[:20]}"


@dataclass
class PathResult(JsonRecord):
    """One candidate's outcome: passed or why not, its speed, and how far it agreed."""

    path: str
    passed: bool
    reason: str = ""  # why it failed, crashed or did not apply ("" when it passed)
    seconds_per_item: float = 0.0  # a request's median time, or a token's for chat
    speedup: float = 0.0  # torch float32's time over this path's (above 1 is faster)
    agreement: str = ""  # what was compared, in words
    figures: dict[str, float] = field(default_factory=dict)  # the compared numbers


@dataclass
class EngineDecision(JsonRecord):
    """A check's record: every candidate's result and the path loads now take ("" for torch as
    without the setting: none passed but the reference, or the check has not run)."""

    task: str
    model: str
    chosen: str
    checked_at: str  # ISO date and time, UTC
    machine: dict[str, str]
    inputs: int
    results: list[PathResult]
    # Paths that failed after the check (an engine that crashed or would not load in the app).
    failures: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineDecision:
        """The record written by ``to_dict``."""
        results = [PathResult(**item) for item in data.get("results", [])]
        fields = {k: data[k] for k in ("task", "model", "chosen", "checked_at", "machine", "inputs")}
        return cls(**fields, results=results, failures=dict(data.get("failures", {})))

    def result(self, name: str) -> PathResult | None:
        """The result of the path called ``name``."""
        return next((item for item in self.results if item.path == name), None)

    def fastest_passing(self) -> str:
        """The fastest path that passed and has not failed since ("" when none beats the reference)."""
        passing = [item for item in self.results if item.passed and item.path not in self.failures]
        return min(passing, key=lambda item: item.seconds_per_item).path if passing else ""


def _folder(settings: Settings) -> Path:
    return settings.state_dir / DECISIONS_FOLDER


def decision_file(task: str, folder: Path, settings: Settings) -> Path:
    """Where the decision for ``task`` on the model in ``folder`` on this machine lives."""
    return _folder(settings) / f"{model_key(task, folder)}.json"


def read_decision(task: str, folder: Path | None, settings: Settings) -> EngineDecision | None:
    """The recorded decision, or None (never checked, stale, or unreadable)."""
    if folder is None or task not in TASK_PATHS:
        return None
    try:
        return EngineDecision.from_dict(json.loads(decision_file(task, folder, settings).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_decision(decision: EngineDecision, folder: Path, settings: Settings) -> Path:
    """Record ``decision`` atomically (a load never reads half a file)."""
    target = decision_file(decision.task, folder, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    partial.write_text(json.dumps(decision.to_dict(), indent=1), encoding="utf-8")
    os.replace(partial, target)
    return target


def record_failure(task: str, folder: Path, path_name: str, reason: str, settings: Settings) -> None:
    """A path that failed in the app after passing its check: loads fall back from now on."""
    decision = read_decision(task, folder, settings)
    if decision is None or path_name in decision.failures:
        return
    decision.failures[path_name] = reason[:500]
    decision.chosen = decision.fastest_passing()
    write_decision(decision, folder, settings)


def checked_path(task: str, folder: Path | None, settings: Settings) -> CandidatePath | None:
    """The path the ``auto`` setting loads ``task``'s model on: the decision's, if one passed."""
    decision = read_decision(task, folder, settings)
    return PATHS.get(decision.chosen) if decision and decision.chosen else None


def _when(checked_at: str, today: dt.date | None = None) -> str:
    day = dt.datetime.fromisoformat(checked_at).date()
    today = today or dt.datetime.now(dt.UTC).date()
    if day == today:
        return _("checked today")
    return _("checked on {date}").format(date=day.isoformat())


def all_decisions(settings: Settings) -> list[EngineDecision]:
    """Every recorded decision in the state folder (this machine's and older ones), newest first."""
    decisions = []
    for file in _folder(settings).glob("*.json"):
        try:
            decisions.append(EngineDecision.from_dict(json.loads(file.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(decisions, key=lambda decision: decision.checked_at, reverse=True)


def decision_note(decision: EngineDecision | None, today: dt.date | None = None) -> str:
    """One line on how a model runs, for an answer's footer and the Models page: e.g. "ONNX
    Runtime, checked today: 5.8x faster, labels equal on 64 inputs"."""
    if decision is None:
        return ""
    result = decision.result(decision.chosen) if decision.chosen else None
    when = _when(decision.checked_at, today)
    if result is None:
        return _("torch, {when}: no path passed").format(when=when)
    if result.path == TORCH_FLOAT32.name:  # the reference itself: no speedup to state
        return _("{path}, {when}: the fastest of {n} paths").format(
            path=_(TORCH_FLOAT32.label), when=when, n=len(decision.results)
        )
    return _("{path}, {when}: {speedup:.1f}x faster, {agreement}").format(
        path=_(PATHS[result.path].label), when=when, speedup=result.speedup, agreement=result.agreement
    )
