"""Load peaks of the demos' dynamic int8 setting (``LSM_CPU_QUANTIZE=int8``): sentiment,
translation and image classification, each load in a fresh process.

``python -m benchmarks.int8_load [TASK ...]`` runs every (task, mode) pair in its own process
(``python -m benchmarks.int8_load load TASK MODE``) and prints a table. The figure is the peak
resident memory the load and one answer added (``VmHWM``, counted after the model's code is
imported and its preprocessor used once, as ``benchmarks.chat_speed`` does for chat), against the
loaded weights: int8 Linear weights (one byte each) plus every tensor that stays float32; and
against what those weights hold resident once packed (fbgemm pads each layer's inputs to a
multiple of 512: ``quantize.packed_layout_bytes``). One
answer is included so a file-mapped tensor's pages count once the model reads them.

Modes: ``int8`` (the loader now), ``int8-before`` (the loader's path before this change, kept for
the comparison: a float32 load and ``torch.ao.quantization.quantize_dynamic`` on the whole model)
and ``float32`` (no quantisation, for reference). ``int8-float16`` loads a float16 copy of the same
checkpoint (written once beside it), and ``int8-float16-before`` does so as the loader did before
it read half-precision checkpoints as stored: converted to float32 whole, then quantised. The models are the benchmark's: real weights
from the mirror when present, else the full-size stand-ins (``benchmarks.standins``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import Any

from backend.config import PROJECT_ROOT, Settings, to_environment
from benchmarks import measure

TASKS = ("image-classification", "translation", "sentiment")
MODES = ("int8-before", "int8", "float32")
HALF_MODES = ("int8-float16-before", "int8-float16")


def _settings(settings: Settings, mode: str) -> Settings:
    quantize = "int8" if mode.startswith("int8") and mode != "int8-before" else "none"
    # float32 on every CPU: dynamic int8 starts from float32, and the reference should match it.
    return dataclasses.replace(settings, cpu_quantize=quantize, cpu_bfloat16="off", cpu_engine="", device="cpu")


def _load(task: str, hub_id: str, mode: str, settings: Settings) -> Any:
    import torch

    from backend.models import loader

    if mode == "int8-float16-before":
        # The loader's read dtype before: the plan's (float32), so the whole model is converted first.
        loader._read_dtype = lambda plan, folder: torch.float32
    loaded = loader.load_model(task, hub_id, _settings(settings, mode))
    if mode == "int8-before":
        # What quantize_int8 did before: the whole float32 model, quantised by torch in place.
        loaded.model = torch.ao.quantization.quantize_dynamic(
            loaded.model.float(), {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        ).eval()
    loaded.memory_bytes = _weights_bytes(loaded.model)
    return loaded


def _float_bytes(model: Any) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def _weights_bytes(model: Any) -> int:
    """The weights at their loaded dtype: float tensors, and one byte per int8 value."""
    from backend.models.load import quantize

    return _float_bytes(model) + quantize.packed_weight_bytes(model)


def _resident_weights_bytes(model: Any) -> int:
    """The same with the int8 layers as packed (fbgemm pads their inputs to blocks of 512)."""
    from backend.models.load import quantize

    return _float_bytes(model) + quantize.packed_layout_bytes(model)


def _import_model_code(task: str, folder: Any) -> None:
    """One-time costs every later load skips: the model class's modules, the preprocessor's first use."""
    import torch
    import transformers
    from accelerate import init_empty_weights

    from backend.models.loader import _AUTO_CLASSES

    model_class, preprocessor_class = (getattr(transformers, name) for name in _AUTO_CLASSES[task])
    with init_empty_weights():
        model_class.from_config(transformers.AutoConfig.from_pretrained(folder))
    preprocessor_class.from_pretrained(folder)
    # The quantised kernels' first use (their code pages count once per process, not per load).
    small = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Linear(256, 64))
    with torch.inference_mode():
        torch.ao.quantization.quantize_dynamic(small, {torch.nn.Linear}, dtype=torch.qint8)(torch.ones(2, 64)).sum()


def load_peak(task: str, mode: str, settings: Settings) -> dict[str, Any]:
    """In this (fresh) process: what loading ``task``'s model in ``mode`` and answering once adds
    to the peak RSS, and the weights' size."""
    import warnings

    from benchmarks.profiles import PROFILES
    from benchmarks.standins import prepare_model
    from benchmarks.tasks import ADAPTERS

    warnings.simplefilter("ignore")
    bench = prepare_model(task, settings, quick=True)
    adapter = ADAPTERS[task]
    item = adapter.make_inputs(PROFILES["quick"], 0, 1)[0]
    model_ref = bench.hub_id
    if mode in HALF_MODES:
        model_ref = str(_float16_copy(task, bench.folder))
    measure.warm_page_cache(model_ref if mode in HALF_MODES else bench.folder)
    _import_model_code(task, bench.folder)
    measure.return_freed_memory()
    # What one more preprocessor instance adds (load_model makes one with every load): not the
    # model's weights, reported so the weights' own ratio can be read without it.
    with measure.peak_memory() as preprocessor:
        extra = _preprocessor(task, bench.folder)
    del extra
    measure.return_freed_memory()
    with measure.peak_memory() as load:
        started = time.perf_counter()
        loaded = _load(task, model_ref, mode, bench.settings)
        seconds = time.perf_counter() - started
    # Every weight read before the answer: an answer's activations and decoded inputs stay in
    # the heap afterwards and are no part of the load (the same in every mode, float32 included).
    with measure.peak_memory() as read:
        _read_every_weight(loaded.model)
    with measure.peak_memory() as answer:
        adapter.run_single_ours(loaded, item)
    start = load.peak_rss_mb - load.delta_rss_mb
    weights = loaded.memory_bytes / measure.MB
    resident = _resident_weights_bytes(loaded.model) / measure.MB
    added = round(max(load.peak_rss_mb, read.peak_rss_mb) - start, 1)
    return {
        "task": task,
        "mode": mode,
        "weights": bench.weights,
        "load_seconds": round(seconds, 2),
        "load_alone_mb": load.delta_rss_mb,
        "added_peak_mb": added,
        "with_answer_mb": round(max(load.peak_rss_mb, read.peak_rss_mb, answer.peak_rss_mb) - start, 1),
        "preprocessor_mb": preprocessor.delta_rss_mb,
        "weights_mb": measure.size_mb(weights * measure.MB),
        "peak_over_weights": round(added / weights, 2) if weights else None,
        "packed_mb": round(resident, 1),
        "peak_over_packed": round(added / resident, 2) if resident else None,
        "without_preprocessor": round((added - preprocessor.delta_rss_mb) / weights, 2) if weights else None,
        "method": load.method,
    }


def _float16_copy(task: str, folder: Any) -> Any:
    """A float16 copy of the checkpoint in ``folder``, beside it (written once, in its own process
    so this one's heap stays as a fresh process's)."""
    copy = folder.with_name(folder.name + "-float16")
    if not (copy / "config.json").is_file():
        subprocess.run([sys.executable, "-m", "benchmarks.int8_load", "float16-copy", task, str(folder), str(copy)],
                       cwd=PROJECT_ROOT, check=True)  # fmt: skip
    return copy


def _write_float16_copy(task: str, folder: str, copy: str) -> None:
    import torch
    import transformers

    from backend.models.loader import _AUTO_CLASSES

    model_class, preprocessor_class = (getattr(transformers, name) for name in _AUTO_CLASSES[task])
    model_class.from_pretrained(folder, dtype=torch.float32).to(torch.float16).save_pretrained(copy)
    preprocessor_class.from_pretrained(folder).save_pretrained(copy)


def _preprocessor(task: str, folder: Any) -> Any:
    import transformers

    from backend.models.loader import _AUTO_CLASSES

    return getattr(transformers, _AUTO_CLASSES[task][1]).from_pretrained(folder)


def _read_every_weight(model: Any) -> None:
    """Read every float tensor once, as answers eventually do: a file-mapped tensor's pages count
    from then on (the worst case: an answer reads only the embedding rows its tokens use)."""
    import torch

    with torch.inference_mode():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.sum()


def run(settings: Settings, tasks: tuple[str, ...] = TASKS, modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    """Every (task, mode) load peak, each in a fresh process."""
    result: dict[str, Any] = {"load_average_start": measure.load_average(), "rows": []}
    for task in tasks:
        for mode in modes:
            env = {**os.environ, **to_environment(settings), "HF_HUB_OFFLINE": "1"}
            done = subprocess.run([sys.executable, "-m", "benchmarks.int8_load", "load", task, mode],
                                  cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)  # fmt: skip
            if done.returncode != 0:
                result["rows"].append({"task": task, "mode": mode, "error": done.stderr[-400:]})
                continue
            result["rows"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    result["load_average_end"] = measure.load_average()
    return result


def render(result: dict[str, Any]) -> str:
    """The rows as a Markdown table."""
    lines = [f"load average {result['load_average_start']} → {result['load_average_end']}", "",
             "| task | load | load alone MB | + every weight read | weights MB | peak / weights | "
             "packed MB | peak / packed | the same less a preprocessor (MB) | + one answer | s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in result["rows"]:
        if "error" in row:
            lines.append(f"| {row['task']} | {row['mode']} | failed: {row['error'][-120:]!r} | | | | | | | | |")
            continue
        lines.append(f"| {row['task']} | {row['mode']} | {row['load_alone_mb']} | {row['added_peak_mb']} | "
                     f"{row['weights_mb']} | ×{row['peak_over_weights']} | {row['packed_mb']} | "
                     f"×{row['peak_over_packed']} | ×{row['without_preprocessor']} "
                     f"({row['preprocessor_mb']}) | {row['with_answer_mb']} | {row['load_seconds']} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``load TASK MODE`` (one load peak, JSON on stdout), or ``[--float16] [TASK ...]`` (all modes,
    with the float16 checkpoint's too, a table)."""
    from backend.config import get_settings

    settings = get_settings()
    if argv[:1] == ["load"]:
        print(json.dumps(load_peak(argv[1], argv[2], settings)))
        return 0
    if argv[:1] == ["float16-copy"]:
        _write_float16_copy(*argv[1:4])
        return 0
    half = "--float16" in argv
    tasks = tuple(arg for arg in argv if arg != "--float16") or TASKS
    result = run(settings, tasks, MODES + HALF_MODES if half else MODES)
    print(json.dumps(result, indent=1))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
