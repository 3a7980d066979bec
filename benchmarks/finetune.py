"""Fine-tuning benchmark: our full and fast methods against a plain ``transformers.Trainer``.

All runs use the same synthetic three-class dataset (``workloads.labelled_texts``: the label is
given by one keyword, so it is learnable) and the same epoch budget. The clock starts before the
base model is loaded and covers tokenisation, training and the per-epoch validation on every path;
"time to target" is when validation accuracy first reaches the profile's target.

Baselines ("plain Trainer, default arguments") deviate from the defaults only where a
measurement needs it: ``num_train_epochs`` (the shared budget), ``eval_strategy="epoch"`` (to see
when the target is reached), ``save_strategy="no"`` (checkpoint writes would only slow the
baseline down) and ``report_to="none"`` / ``disable_tqdm`` (no loggers, no progress bars).
Fast mode trains a head on a frozen sentence embedder, so its baseline is the plain Trainer
fine-tuning that same embedder's encoder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from backend.config import Settings
from backend.jobs.progress import JobEvent
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo, choose_device
from backend.training.classifier import runner
from backend.training.classifier.datasets import Examples, PreparedDataset
from backend.training.classifier.params import FAST, FULL, TEXT, default_params
from backend.training.common import RunOptions
from benchmarks import measure, workloads
from benchmarks.profiles import Profile
from benchmarks.standins import BenchModel, prepare_model


@dataclass
class FinetuneResult:
    """One training run's speed, memory and accuracy curve."""

    method: str
    model: str
    weights: str
    settings: str
    train_examples: int
    epochs_run: float
    samples_per_second: float
    seconds_total: float
    target_accuracy: float
    seconds_to_target: float | None
    best_accuracy: float
    accuracy_curve: list[tuple[float, float, float]]  # (seconds, epoch, validation accuracy)
    peak_rss_mb: float
    delta_rss_mb: float
    gpu_peak_mb: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


class _Curve:
    """Validation accuracy over wall time since ``start``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.points: list[tuple[float, float, float]] = []

    def add(self, epoch: float, accuracy: float) -> None:
        self.points.append((round(time.perf_counter() - self.start, 3), round(epoch, 3), round(accuracy, 4)))

    def time_to(self, target: float) -> float | None:
        return next((seconds for seconds, _, accuracy in self.points if accuracy >= target), None)


def build_dataset(profile: Profile) -> PreparedDataset:
    """The synthetic dataset, split into the profile's train and validation sizes."""
    texts, labels = workloads.labelled_texts(profile.finetune_train + profile.finetune_eval, seed=7)
    cut = profile.finetune_train
    return PreparedDataset(
        task=TEXT,
        classes=list(workloads.LABELS),
        train=Examples(texts[:cut], labels[:cut]),
        validation=Examples(texts[cut:], labels[cut:]),
    )


def _result(method: str, bench: BenchModel, settings: str, dataset: PreparedDataset, epochs: float, curve: _Curve,
            total: float, target: float, memory: measure.MemoryReading, passes: float | None = None) -> FinetuneResult:  # fmt: skip
    # ``passes``: how many times the model reads each example (epochs, except fast mode's one encoding pass).
    passes = epochs if passes is None else passes
    trained_until = curve.points[-1][0] if curve.points else total
    notes = (
        [f"{bench.hub_id}: {bench.weights}; accuracy reflects learning from random weights."]
        if bench.is_standin
        else []
    )
    return FinetuneResult(
        method=method,
        model=bench.hub_id,
        weights=bench.weights,
        settings=settings,
        train_examples=len(dataset.train),
        epochs_run=epochs,
        samples_per_second=round(len(dataset.train) * passes / trained_until, 2) if trained_until else 0.0,
        seconds_total=round(total, 2),
        target_accuracy=target,
        seconds_to_target=curve.time_to(target),
        best_accuracy=max((accuracy for _, _, accuracy in curve.points), default=0.0),
        accuracy_curve=curve.points,
        peak_rss_mb=memory.peak_rss_mb,
        delta_rss_mb=memory.delta_rss_mb,
        gpu_peak_mb=memory.gpu_peak_mb,
        notes=notes,
    )


def run_ours(
    method: str, bench: BenchModel, dataset: PreparedDataset, profile: Profile, device: DeviceInfo
) -> FinetuneResult:
    """Our ``run_training`` (no queue) with the method's default parameters and the shared epoch budget."""
    params = default_params(TEXT, method, bench.hub_id)
    params = dataclasses.replace(params, epochs=profile.finetune_max_epochs, title="benchmark")
    # Full fine-tuning is timed over the shared budget; fast mode's head epochs are nearly free,
    # so it keeps its own (larger) default epoch count, which is how users run it.
    if method == FAST:
        params = dataclasses.replace(params, epochs=default_params(TEXT, FAST, bench.hub_id).epochs)

    def on_event(event: JobEvent) -> None:
        if event.kind == "metric" and event.name == "val_accuracy":
            curve.add(event.epoch, event.value)

    with (
        tempfile.TemporaryDirectory(prefix="bench-finetune-") as run_dir,
        measure.peak_memory(device.torch_device) as memory,
    ):
        curve = _Curve()
        runner.run_training(
            params, dataset, Path(run_dir), RunOptions(on_event, settings=bench.settings, device=device)
        )
        total = time.perf_counter() - curve.start
    description = f"run_training, {method} method, default parameters ({params.batch_size} per batch, lr {params.learning_rate:g})"
    if method == FAST:
        description += "; samples/s counts the one encoding pass, head epochs run on cached features"
    return _result(f"ours {method}", bench, description, dataset, float(params.epochs), curve, total,
                   profile.finetune_target_accuracy, memory, passes=1.0 if method == FAST else None)  # fmt: skip


class _TokenizedExamples(torch.utils.data.Dataset):
    def __init__(self, tokenizer: Any, examples: Examples) -> None:
        self.encodings = tokenizer(examples.inputs, truncation=True)
        self.labels = examples.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**{key: values[index] for key, values in self.encodings.items()}, "labels": self.labels[index]}


def run_baseline(
    bench: BenchModel, dataset: PreparedDataset, profile: Profile, device: DeviceInfo, label: str
) -> FinetuneResult:
    """A plain ``Trainer`` with default arguments (see the module docstring) on the same data and model."""
    import numpy as np
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    class AccuracyClock(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001, ANN003 - Trainer's API
            curve.add(float(state.epoch or 0), float((metrics or {}).get("eval_accuracy", 0.0)))

    def accuracy(prediction: Any) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return {"accuracy": float((np.asarray(logits).argmax(-1) == prediction.label_ids).mean())}

    folder = str(bench.folder)
    with (
        tempfile.TemporaryDirectory(prefix="bench-trainer-") as out_dir,
        measure.peak_memory(device.torch_device) as memory,
    ):
        curve = _Curve()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=len(dataset.classes))
        arguments = TrainingArguments(
            output_dir=out_dir, num_train_epochs=profile.finetune_max_epochs, eval_strategy="epoch",
            save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=device.kind == "cpu",
        )  # fmt: skip
        trainer = Trainer(
            model=model, args=arguments, train_dataset=_TokenizedExamples(tokenizer, dataset.train),
            eval_dataset=_TokenizedExamples(tokenizer, dataset.validation), processing_class=tokenizer,
            compute_metrics=accuracy, callbacks=[AccuracyClock()],
        )  # fmt: skip
        trainer.train()
        total = time.perf_counter() - curve.start
    description = (f"Trainer defaults ({arguments.per_device_train_batch_size} per batch, lr {arguments.learning_rate:g}), "
                   "evaluated each epoch")  # fmt: skip
    return _result(label, bench, description, dataset, float(profile.finetune_max_epochs), curve, total,
                   profile.finetune_target_accuracy, memory)  # fmt: skip


def run_finetune(profile: Profile, settings: Settings) -> list[FinetuneResult]:
    """Ours full vs Trainer on the classifier base; ours fast vs Trainer on the embedder."""
    quick = profile.name != "full"
    device = choose_device(settings.device)
    dataset = build_dataset(profile)
    base = prepare_model(catalogue.TEXT_CLASSIFIER_BASE, settings, quick=quick, tiny=profile.tiny_models)
    embedder = prepare_model(catalogue.EMBEDDINGS, settings, quick=quick, tiny=profile.tiny_models)
    for bench in (base, embedder):
        measure.warm_page_cache(bench.folder)
    # Imported up front so that whichever run goes first does not pay alone for the import.
    import transformers.trainer  # noqa: F401

    runs: list[Callable[[], FinetuneResult]] = [
        lambda: run_baseline(base, dataset, profile, device, "Trainer (full)"),
        lambda: run_ours(FULL, base, dataset, profile, device),
        lambda: run_baseline(embedder, dataset, profile, device, "Trainer (embedder)"),
        lambda: run_ours(FAST, embedder, dataset, profile, device),
    ]
    results = []
    for run in runs:
        # Trainer and our runs print their log lines; the benchmark prints its own table instead.
        with contextlib.redirect_stdout(io.StringIO()):
            result = run()
        results.append(result)
        print(f"  {result.method}: {result.samples_per_second} samples/s, best accuracy {result.best_accuracy}, "
              f"{result.seconds_total} s", file=sys.stderr, flush=True)  # fmt: skip
    return results
