"""CPU experiments: does a runtime option speed up our path here? Before/after on the same inputs.

Each experiment times our batch function (median of a few runs, after a warm-up) with the model
as the runtime loads it in float32 ("before"; the chat model in its catalogue bfloat16) and with
one change ("after"): length-sorted batching versus
batches in arrival order, dynamic int8 quantisation of the Linear layers
(``torch.ao.quantization.quantize_dynamic``), bfloat16 weights. Where answers can change, the
agreement of the two models' outputs is reported beside the speed, since a faster wrong answer
is no gain.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from unittest import mock

import torch

from backend.config import Settings
from backend.inference import batching, image_classification, sentiment, text_generation, translation
from backend.models.load import quantize
from backend.models.loader import LoadedModel, load_model
from backend.models.resolve.device import choose_device
from benchmarks import measure, workloads
from benchmarks.profiles import Profile
from benchmarks.standins import prepare_model

_REPEATS = 3


@dataclass(frozen=True)
class Experiment:
    """One before/after measurement (``ratio`` = after / before; above 1 is faster)."""

    name: str
    task: str
    before: float
    after: float
    unit: str
    ratio: float
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def _rate(run: Callable[[], float]) -> float:
    run()
    rates = []
    for _ in range(_REPEATS):
        measure.wait_for_quiet_threads()
        started = time.perf_counter()
        amount = run()
        rates.append(amount / (time.perf_counter() - started))
    return statistics.median(rates)


def _arrival_order_batches(sizes: list[int], batch_size: int) -> list[list[int]]:
    indices = list(range(len(sizes)))
    return [indices[start : start + batch_size] for start in range(0, len(indices), batch_size)]


def _threads_rate(threads: int, run: Callable[[], float]) -> float:
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _rate(run)
    finally:
        torch.set_num_threads(saved)


def _threads_experiment(task: str, run: Callable[[], float], base_rate: float, unit: str) -> Experiment | None:
    # On a shared machine, a thread per core can lose more to waiting for a descheduled peer than
    # it gains; one thread never waits.
    default = torch.get_num_threads()
    if default < 2:
        return None
    rate = _threads_rate(1, run)
    return Experiment(f"1 torch thread (default {default})", task, base_rate, rate, unit, round(rate / base_rate, 3),
                      f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip


def _float32(settings: Settings) -> Settings:
    # "Before" is float32 even where the runtime picks bfloat16 on its own (cpu_bfloat16 = auto
    # on a CPU with native bfloat16), so the bfloat16 experiment keeps measuring that choice.
    return dataclasses.replace(settings, cpu_bfloat16="off")


def _int8(loaded: LoadedModel) -> LoadedModel:
    return dataclasses.replace(loaded, model=quantize.quantize_int8(copy.deepcopy(loaded.model)), dtype="float32")


def _bf16(loaded: LoadedModel) -> LoadedModel:
    return dataclasses.replace(loaded, model=copy.deepcopy(loaded.model).to(torch.bfloat16), dtype="bfloat16")


def _agreement(a: list[Any], b: list[Any]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def _sentiment_experiments(profile: Profile, settings: Settings) -> list[Experiment]:
    bench = prepare_model("sentiment", settings, tiny=profile.tiny_models)
    loaded = load_model("sentiment", bench.hub_id, _float32(bench.settings), choose_device("cpu"))
    texts = workloads.sentences(profile.batch_items, seed=3, max_words=profile.max_words)

    def run_with(model: LoadedModel) -> Callable[[], float]:
        return lambda: float(len(sentiment.classify(model, texts)))

    sorted_rate = _rate(run_with(loaded))
    with mock.patch.object(batching, "sorted_batches", _arrival_order_batches):
        arrival_rate = _rate(run_with(loaded))
    labels = [r.label for r in sentiment.classify(loaded, texts)]
    results = [Experiment("length-sorted batches (the backend default)", "sentiment", arrival_rate,
                          sorted_rate, "texts/s", round(sorted_rate / arrival_rate, 3), "before = arrival order")]  # fmt: skip
    for name, change in (("dynamic int8 Linear", _int8), ("bfloat16 weights", _bf16)):
        changed = change(loaded)
        rate = _rate(run_with(changed))
        agree = _agreement(labels, [r.label for r in sentiment.classify(changed, texts)])
        results.append(Experiment(name, "sentiment", sorted_rate, rate, "texts/s", round(rate / sorted_rate, 3),
                                  f"same label as float32 on {agree:.0%} of texts"))  # fmt: skip
        del changed
        gc.collect()
    threads = _threads_experiment("sentiment", run_with(loaded), sorted_rate, "texts/s")
    return results + ([threads] if threads else [])


def _translation_experiments(profile: Profile, settings: Settings) -> list[Experiment]:
    bench = prepare_model("translation", settings, tiny=profile.tiny_models)
    loaded = load_model("translation", bench.hub_id, _float32(bench.settings), choose_device("cpu"))
    english = [
        t
        for t in workloads.sentences(profile.batch_items, seed=4, max_words=profile.translation_max_words)
        if t.isascii()
    ]
    texts = english[: max(4, profile.batch_items // 4)]

    def run_with(model: LoadedModel) -> Callable[[], float]:
        return lambda: float(len(translation.translate(model, texts)))

    base_rate = _rate(run_with(loaded))
    reference = [r.translation for r in translation.translate(loaded, texts)]
    results = []
    for name, change in (("dynamic int8 Linear", _int8), ("bfloat16 weights", _bf16)):
        changed = change(loaded)
        rate = _rate(run_with(changed))
        agree = _agreement(reference, [r.translation for r in translation.translate(changed, texts)])
        results.append(Experiment(name, "translation", base_rate, rate, "sentences/s", round(rate / base_rate, 3),
                                  f"identical output on {agree:.0%} of sentences (greedy)"))  # fmt: skip
        del changed
        gc.collect()
    return results


def _generation_experiments(profile: Profile, settings: Settings) -> list[Experiment]:
    bench = prepare_model("text-generation", settings, tiny=profile.tiny_models)
    loaded = load_model("text-generation", bench.hub_id, bench.settings, choose_device("cpu"))
    prompts = workloads.prompts(text_generation.DEFAULT_BATCH_SIZE)
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=profile.new_tokens)

    def run_with(model: LoadedModel) -> Callable[[], float]:
        return lambda: float(sum(r.new_tokens for r in text_generation.generate(model, prompts, options)))

    base_rate = _rate(run_with(loaded))
    results = []
    variants: tuple[tuple[str, Callable[[LoadedModel], LoadedModel]], ...] = (
        (
            "float32 weights (catalogue: bfloat16)",
            lambda m: dataclasses.replace(m, model=copy.deepcopy(m.model).float(), dtype="float32"),
        ),
        ("dynamic int8 Linear", _int8),
    )
    for name, change in variants:
        changed = change(loaded)
        rate = _rate(run_with(changed))
        results.append(Experiment(name, "text-generation", base_rate, rate, "tokens/s", round(rate / base_rate, 3),
                                  f"greedy, batch of {len(prompts)}, {profile.new_tokens} new tokens"))  # fmt: skip
        del changed
        gc.collect()
    threads = _threads_experiment("text-generation", run_with(loaded), base_rate, "tokens/s")
    return results + ([threads] if threads else [])


def _image_experiments(profile: Profile, settings: Settings) -> list[Experiment]:
    bench = prepare_model("image-classification", settings, tiny=profile.tiny_models)
    loaded = load_model("image-classification", bench.hub_id, _float32(bench.settings), choose_device("cpu"))
    images = workloads.images(max(4, profile.batch_items // 2), seed=5)

    def run_with(model: LoadedModel) -> Callable[[], float]:
        return lambda: float(len(image_classification.classify_images(model, images)))

    base_rate = _rate(run_with(loaded))
    labels = [p.label for p in image_classification.classify_images(loaded, images)]
    changed = _int8(loaded)
    rate = _rate(run_with(changed))
    agree = _agreement(labels, [p.label for p in image_classification.classify_images(changed, images)])
    return [Experiment("dynamic int8 Linear", "image-classification", base_rate, rate, "images/s",
                       round(rate / base_rate, 3), f"same top label as float32 on {agree:.0%} of images")]  # fmt: skip


def _gpu_generation_experiments(profile: Profile, settings: Settings) -> list[Experiment]:
    """On CUDA only: a static KV cache (fixed shapes, no reallocation per token) for generation."""
    if not torch.cuda.is_available():
        return []
    bench = prepare_model("text-generation", settings, tiny=profile.tiny_models)
    device = choose_device("cuda")
    loaded = load_model("text-generation", bench.hub_id, bench.settings, device)
    prompts = workloads.prompts(text_generation.DEFAULT_BATCH_SIZE)
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=profile.new_tokens)

    def run() -> float:
        amount = float(sum(r.new_tokens for r in text_generation.generate(loaded, prompts, options)))
        torch.cuda.synchronize()
        return amount

    base_rate = _rate(run)
    config = loaded.model.generation_config
    saved = getattr(config, "cache_implementation", None)
    config.cache_implementation = "static"
    try:
        rate = _rate(run)
    finally:
        config.cache_implementation = saved
    return [Experiment("static KV cache", "text-generation (GPU)", base_rate, rate, "tokens/s",
                       round(rate / base_rate, 3), f"{device.name}, greedy, batch of {len(prompts)}")]  # fmt: skip


def run_experiments(profile: Profile, settings: Settings) -> list[Experiment]:
    """Every CPU experiment (on the CPU whatever the device setting), then GPU ones where CUDA is."""
    results: list[Experiment] = []
    runs = (_sentiment_experiments, _translation_experiments, _image_experiments, _generation_experiments,
            _gpu_generation_experiments)  # fmt: skip
    for run in runs:
        results.extend(run(profile, settings))
        gc.collect()
    return results
