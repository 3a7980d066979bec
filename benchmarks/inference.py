"""Inference benchmark of one demo task: our backend path against the pipeline baseline.

Both paths run in this process on the same inputs and device. Each path has its own phase: load
(timed), one untimed warm-up call, the batch (throughput); its peak memory is taken over that phase,
``delta`` being what the phase added to the process (freed memory is handed back to the system
between phases, so the second path does not look smaller by reusing the first one's). Then single
requests (latency percentiles) alternate between the paths, so that load from other work on a
shared machine falls on both alike. Before either path, the model's files are read once (so neither pays alone for the disk)
and the model's Python modules are imported (so neither pays alone for the import).
"""

from __future__ import annotations

import dataclasses
import gc
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from backend.config import Settings
from backend.inference.chat_prompt import ChatMessage
from backend.models.loader import LoadedModel, load_model
from backend.models.resolve import engine_choice
from backend.models.resolve.device import DeviceInfo, choose_device, torch_dtype
from benchmarks import measure, roofline
from benchmarks.profiles import Profile
from benchmarks.standins import BenchModel, prepare_model
from benchmarks.tasks import ADAPTERS, FIRST_TOKEN_MS, TaskAdapter, run_batch_baseline

_SINGLE_SEED = 1
_BATCH_SEED = 2
_WARM_UP_SEED = 3


@dataclass
class PathFigures:
    """Every figure of one path (ours or the baseline)."""

    path: str
    settings: str
    dtype: str
    load_seconds: float
    latency_p50_ms: float
    latency_p95_ms: float
    batch_seconds: float
    batch_items: int
    throughput: float
    throughput_unit: str
    peak_rss_mb: float
    delta_rss_mb: float
    gpu_peak_mb: float | None
    # What the load alone added to the process's peak RSS, and the weights it loaded (their bytes
    # at the loaded dtype, or the engine's model files): the bound is 1.3x.
    load_delta_rss_mb: float | None = None
    weights_mb: float | None = None
    engine: str = "torch"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


@dataclass
class InferenceResult:
    """One task's figures for both paths, their ratios and what to know about them."""

    task: str
    model: str
    weights: str
    device: str
    ours: PathFigures
    baseline: PathFigures
    notes: list[str] = field(default_factory=list)
    bound: dict[str, Any] | None = None
    # Our path again with LSM_CPU_QUANTIZE=int8 (CPU only; None elsewhere).
    ours_int8: PathFigures | None = None
    # Our path again on another engine (LSM_CPU_ENGINE; CPU, sentiment and translation), and how
    # its answers compare with ours in torch float32 on the same inputs.
    ours_engine: PathFigures | None = None
    engine_check: dict[str, Any] | None = None

    @property
    def ratios(self) -> dict[str, float | None]:
        """ours / baseline per figure (throughput: above 1 is better; the rest: below 1)."""

        def ratio(a: float | None, b: float | None) -> float | None:
            return round(a / b, 3) if a is not None and b else None

        o, b = self.ours, self.baseline
        return {
            "load_seconds": ratio(o.load_seconds, b.load_seconds),
            "latency_p50_ms": ratio(o.latency_p50_ms, b.latency_p50_ms),
            "latency_p95_ms": ratio(o.latency_p95_ms, b.latency_p95_ms),
            "throughput": ratio(o.throughput, b.throughput),
            "delta_rss_mb": ratio(o.delta_rss_mb, b.delta_rss_mb),
            "gpu_peak_mb": ratio(o.gpu_peak_mb, b.gpu_peak_mb),
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-able form, ratios included."""
        return {
            "task": self.task,
            "model": self.model,
            "weights": self.weights,
            "device": self.device,
            "ours": self.ours.to_dict(),
            "baseline": self.baseline.to_dict(),
            "ratios": self.ratios,
            "notes": self.notes,
            "bound": self.bound,
            "ours_int8": self.ours_int8.to_dict() if self.ours_int8 else None,
            "int8_ratios": self.int8_ratios,
            "ours_engine": self.ours_engine.to_dict() if self.ours_engine else None,
            "engine_ratios": self._ratios_of(self.ours_engine),
            "engine_check": self.engine_check,
        }

    def _ratios_of(self, figures: PathFigures | None) -> dict[str, float | None] | None:
        if figures is None:
            return None
        return InferenceResult(self.task, self.model, self.weights, self.device, figures, self.baseline).ratios

    @property
    def int8_ratios(self) -> dict[str, float | None] | None:
        """int8 ours / baseline, like ``ratios``."""
        if self.ours_int8 is None:
            return None
        return InferenceResult(self.task, self.model, self.weights, self.device, self.ours_int8, self.baseline).ratios


def _release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    measure.return_freed_memory()


def _import_model_code(folder: str) -> None:
    import transformers
    import transformers.pipelines  # noqa: F401 - imported here so neither path's load pays for it

    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    for name in config.architectures or []:
        getattr(transformers, name, None)


def _throughput(adapter: TaskAdapter, work: list[int], seconds: float) -> float:
    amount = sum(work) if adapter.unit == "tokens" else len(work)
    return round(amount / seconds, 3) if seconds > 0 else 0.0


def _figures(path: str, settings: str, dtype: str, load_s: float, latencies: list[float], batch_s: float,
             work: list[int], adapter: TaskAdapter, memory: measure.MemoryReading,
             loaded: LoadedModel | None = None) -> PathFigures:  # fmt: skip
    return PathFigures(
        path=path,
        settings=settings,
        dtype=dtype,
        load_seconds=round(load_s, 3),
        latency_p50_ms=round(measure.percentile(latencies, 0.5) * 1000, 2),
        latency_p95_ms=round(measure.percentile(latencies, 0.95) * 1000, 2),
        batch_seconds=round(batch_s, 3),
        batch_items=len(work),
        throughput=_throughput(adapter, work, batch_s),
        throughput_unit=f"{adapter.unit}/s",
        peak_rss_mb=memory.peak_rss_mb,
        delta_rss_mb=memory.delta_rss_mb,
        gpu_peak_mb=memory.gpu_peak_mb,
        load_delta_rss_mb=memory.load_delta_rss_mb,
        weights_mb=measure.size_mb(loaded.memory_bytes) if loaded is not None else None,
        engine=loaded.engine if loaded is not None else "torch",
    )


def _load_ours(adapter: TaskAdapter, bench: BenchModel, device: DeviceInfo, warm_up: Any, batch: list[Any]):
    dev = device.torch_device
    # The load alone first (its own peak), then the warm-up and the batch; the phase's figure is
    # the higher of the two peaks over the RSS before the load.
    with measure.peak_memory(dev) as load_memory:
        load_s, loaded = measure.timed(lambda: load_model(adapter.task, bench.hub_id, bench.settings, device), dev)
    with measure.peak_memory(dev) as run_memory:
        adapter.run_single_ours(loaded, warm_up)
        batch_s, batch_work = measure.timed(lambda: adapter.run_batch_ours(loaded, batch), dev)
    return loaded, load_s, batch_s, batch_work, measure.combined(load_memory, run_memory)


def _load_baseline(adapter: TaskAdapter, bench: BenchModel, device: DeviceInfo, warm_up: tuple[Any, int],
                   batch: list[Any], batch_caps: list[int], dtype: torch.dtype):  # fmt: skip
    """The best plain setup: the pipeline (or the model card's recipe) in the dtype ours loads in,
    bfloat16 on a CPU that computes it (what a knowledgeable user would pass)."""
    import transformers

    dev = device.torch_device
    folder = str(bench.folder)
    tokenizer = folder if adapter.task != "image-classification" else None
    with measure.peak_memory(dev) as memory:
        if adapter.make_baseline is not None:
            load_s, pipe = measure.timed(lambda: adapter.make_baseline(folder, dev, dtype=dtype), dev)
        else:
            load_s, pipe = measure.timed(
                lambda: transformers.pipeline(
                    adapter.pipeline_task, model=folder, tokenizer=tokenizer, device=dev, dtype=dtype
                ),
                dev,
            )
        adapter.run_single_baseline(pipe, *warm_up)
        batch_s, batch_work = measure.timed(lambda: run_batch_baseline(adapter, pipe, batch, batch_caps), dev)
    return pipe, load_s, batch_s, batch_work, memory


def _interleaved_singles(adapter: TaskAdapter, loaded: LoadedModel, pipe: Any, singles: list[Any], dev: str,
                         int8: LoadedModel | None, engine: LoadedModel | None = None):  # fmt: skip
    """Single requests in adjacent groups (ours, the baseline with ours' token count, ours int8,
    ours on another engine), so load from other work on the machine falls on every path alike."""
    ours, baseline, quantized, caps = [], [], [], []
    engined: list[float] = []
    for item in singles:
        seconds, cap = measure.timed(lambda item=item: adapter.run_single_ours(loaded, item), dev)
        ours.append(seconds)
        caps.append(cap)
        seconds, _ = measure.timed(lambda item=item, cap=cap: adapter.run_single_baseline(pipe, item, cap), dev)
        baseline.append(seconds)
        if int8 is not None:
            seconds, _ = measure.timed(lambda item=item: adapter.run_single_ours(int8, item), dev)
            quantized.append(seconds)
        if engine is not None:
            seconds, _ = measure.timed(lambda item=item: adapter.run_single_ours(engine, item), dev)
            engined.append(seconds)
    return ours, baseline, quantized, caps, engined


def _load_int8(adapter: TaskAdapter, bench: BenchModel, device: DeviceInfo, warm_up: Any, batch: list[Any]):
    settings = dataclasses.replace(bench.settings, cpu_quantize=engine_choice.INT8)
    int8_bench = dataclasses.replace(bench, settings=settings)
    return _load_ours(adapter, int8_bench, device, warm_up, batch)


def run_task(task: str, profile: Profile, settings: Settings) -> InferenceResult:
    """Benchmark one demo task on both paths.

    Each path is loaded, warmed up and run on the batch in its own phase (its memory is measured
    there); then the single requests alternate between the paths.

    Args:
        task: sentiment, translation, image-classification or text-generation.
        profile: sizes and counts (tiny, quick or full).
        settings: project settings (device, models folder with optional real weights).
    """
    adapter = ADAPTERS[task]
    bench = prepare_model(task, settings, quick=profile.name != "full", tiny=profile.tiny_models)
    device = choose_device(settings.device)
    dev = device.torch_device
    count = profile.generation_prompts if adapter.unit == "tokens" else profile.batch_items
    singles = adapter.make_inputs(profile, _SINGLE_SEED, profile.single_requests)
    batch = adapter.make_inputs(profile, _BATCH_SEED, count)
    warm_up = adapter.make_inputs(profile, _WARM_UP_SEED, 1)[0]
    measure.warm_page_cache(bench.folder)
    _import_model_code(str(bench.folder))

    _release()
    loaded, o_load, o_batch_s, o_work, o_mem = _load_ours(adapter, bench, device, warm_up, batch)
    warm_up_cap = adapter.run_single_ours(loaded, warm_up)
    _release()
    pipe, b_load, b_batch_s, b_work, b_mem = _load_baseline(
        adapter, bench, device, (warm_up, warm_up_cap), batch, o_work, torch_dtype(loaded.dtype)
    )
    int8 = None
    if engine_choice.wants_int8(task, device, dataclasses.replace(bench.settings, cpu_quantize=engine_choice.INT8)):
        _release()
        int8, q_load, q_batch_s, q_work, q_mem = _load_int8(adapter, bench, device, warm_up, batch)
    engine_name = _engine_of(task, device)
    engine = engine_failure = None
    if engine_name:
        _release()
        try:
            engine, e_load, e_batch_s, e_work, e_mem = _load_engine(adapter, bench, device, warm_up, batch, engine_name)
        except Exception as error:  # noqa: BLE001 - a model the engine cannot convert: say so, keep the rest
            engine_failure = (
                f"{task} on {engine_name}: not measured, the model did not convert ({type(error).__name__})."
            )
    FIRST_TOKEN_MS.clear()
    o_lat, b_lat, q_lat, caps, e_lat = _interleaved_singles(adapter, loaded, pipe, singles, dev, int8, engine)
    b_dtype = str(next(pipe.model.parameters()).dtype).replace("torch.", "")
    ours = _figures("ours", adapter.ours_settings, loaded.dtype, o_load, o_lat, o_batch_s, o_work, adapter, o_mem,
                    loaded)  # fmt: skip
    baseline = _figures(
        "baseline", adapter.baseline_settings, b_dtype, b_load, b_lat, b_batch_s, b_work, adapter, b_mem
    )
    bound = _bound(adapter, loaded, device, ours, o_lat, caps) if adapter.unit == "tokens" else None
    ours_int8 = None
    if int8 is not None:
        ours_int8 = _figures("ours int8", "ours with LSM_CPU_QUANTIZE=int8", "int8", q_load, q_lat, q_batch_s, q_work,
                             adapter, q_mem, int8)  # fmt: skip
    ours_engine = engine_check = None
    if engine is not None:
        ours_engine = _figures(f"ours {engine_name}", f"ours with LSM_CPU_ENGINE={task}={engine_name}", engine.dtype,
                               e_load, e_lat, e_batch_s, e_work, adapter, e_mem, engine)  # fmt: skip
        engine_check = _check_engine(adapter, bench, device, engine, singles)
    model_ref = loaded.model_ref
    del loaded, pipe, int8, engine
    _release()
    notes = []
    if profile.tiny_models:
        notes.append(f"{bench.hub_id}: {bench.weights} (hidden size 32) — checks the harness, says nothing of speed.")
    elif bench.is_standin:
        notes.append(f"{bench.hub_id}: {bench.weights} — speed and memory hold, answers are meaningless.")
    if adapter.generates:
        notes.append("Random weights never stop early: both paths generate the same number of tokens per input.")
    if engine_failure:
        notes.append(engine_failure)
    if engine_check:
        agreed = engine_check.get("same_label", engine_check.get("identical_output"))
        detail = (
            f", largest score difference {engine_check['max_score_difference']:.1e}"
            if "max_score_difference" in engine_check
            else " (greedy)"
        )
        notes.append(
            f"{task} on {engine_name}: the same answer as {engine_check['against']} on {agreed} of "
            f"{engine_check['inputs']} inputs{detail}."
        )
    if bench.is_standin:
        # Random ids decode to text only now and then, so "first text" would time chance.
        FIRST_TOKEN_MS.clear()
    if adapter.unit == "tokens" and not FIRST_TOKEN_MS:
        notes.append(
            f"{task}: time to the first streamed token is not reported: a stand-in's random token ids "
            "seldom decode to text, so the first streamed text would come at a random point."
        )
    if FIRST_TOKEN_MS:
        first = measure.percentile(FIRST_TOKEN_MS, 0.5)
        notes.append(
            f"{task}: our chat page streams; its median time to the first token was {first:.0f} ms, against "
            f"{baseline.latency_p50_ms:.0f} ms for the pipeline's whole reply (streaming costs a thread per reply)."
        )
    return InferenceResult(task, model_ref, bench.weights, device.name, ours, baseline, notes, bound, ours_int8,
                           ours_engine, engine_check)  # fmt: skip


def _engine_of(task: str, device: DeviceInfo) -> str | None:
    if device.kind != "cpu":
        return None
    for name, tasks in engine_choice.ENGINE_TASKS.items():
        if task in tasks and engine_choice.available(name):
            return name
    return None


def _load_engine(adapter: TaskAdapter, bench: BenchModel, device: DeviceInfo, warm_up: Any, batch: list[Any],
                 engine: str):  # fmt: skip
    settings = dataclasses.replace(bench.settings, cpu_engine=f"{adapter.task}={engine}")
    # The one-time export is not the load a user waits for: make it before the clock starts.
    load_model(adapter.task, bench.hub_id, settings, device)
    _release()
    return _load_ours(adapter, dataclasses.replace(bench, settings=settings), device, warm_up, batch)


def _check_engine(adapter: TaskAdapter, bench: BenchModel, device: DeviceInfo, engine: LoadedModel,
                  inputs: list[Any]) -> dict[str, Any]:  # fmt: skip
    """The engine's answers against ours in torch float32 on the single-request inputs: labels and
    the largest score difference (sentiment), identical greedy translations (translation) or chat
    replies (text generation; llama.cpp's 8-bit copy can part from float32 at a near-tie)."""
    from backend.inference import sentiment, text_generation, translation

    _release()
    settings = dataclasses.replace(bench.settings, cpu_bfloat16="off", cpu_engine="", cpu_quantize="none")
    reference = load_model(adapter.task, bench.hub_id, settings, device)
    if adapter.task == "sentiment":
        ours, theirs = sentiment.classify(engine, inputs), sentiment.classify(reference, inputs)
        same = sum(a.label == b.label for a, b in zip(ours, theirs, strict=True))
        worst = max(abs(a.scores[k] - b.scores[k]) for a, b in zip(ours, theirs, strict=True) for k in b.scores)
        return {"against": "ours, torch float32", "inputs": len(inputs), "same_label": same,
                "max_score_difference": round(worst, 7)}  # fmt: skip
    if adapter.task == "text-generation":
        options = text_generation.GenerationOptions(temperature=0, max_new_tokens=16)

        def reply(loaded: LoadedModel, prompt: str) -> str:
            return "".join(text_generation.stream_reply(loaded, [ChatMessage("user", prompt)], options))

        same = sum(reply(engine, prompt) == reply(reference, prompt) for prompt, _ in inputs)
        return {"against": "ours, torch float32, greedy", "inputs": len(inputs), "identical_output": same}
    ours = translation.translate(engine, inputs, target_language="zh")
    theirs = translation.translate(reference, inputs, target_language="zh")
    same = sum(a.translation == b.translation for a, b in zip(ours, theirs, strict=True))
    return {"against": "ours, torch float32, greedy", "inputs": len(inputs), "identical_output": same}


def _bound(adapter: TaskAdapter, loaded: LoadedModel, device: DeviceInfo, ours: PathFigures,
           latencies: list[float], caps: list[int]) -> dict[str, Any]:  # fmt: skip
    single_tokens_per_s = sum(caps) / sum(latencies) if sum(latencies) else 0.0
    from backend.inference import text_generation

    return roofline.generation_bound(
        loaded.model,
        device,
        single_tokens_per_s=single_tokens_per_s,
        batch_tokens_per_s=ours.throughput,
        batch_size=min(text_generation.DEFAULT_BATCH_SIZE, ours.batch_items),
        context_tokens=64 + max(caps or [0]),
    ).to_dict()
