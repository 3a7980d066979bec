"""The ``measure`` job kind: run a task's model on a fixed set of inputs and record its speed.

The prioritiser and the cost calculator need this server's own figures, not assumed ones. The
job loads the model through ``backend.models.acquire`` (the same plan, access check and cache as a
demo), runs one warm-up request, then each fixed input as a single request one after another,
and writes latency p50/p95, throughput, peak memory, device, machine (the CPU model) and date into
the state folder (``backend.decisions.speed``). The inputs are fixed so two measurements of one
model differ only by the machine and its load.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch

from backend import uploads
from backend.config import Settings
from backend.decisions.speed import MEASURED, SpeedRecord, save_measurement
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.inference import image_classification, sentiment, text_generation, translation
from backend.jobs import submit
from backend.jobs.kinds import JobResult, ModelRequest, model_request_handler, model_request_kind
from backend.jobs.progress import JobCancelled, Reporter
from backend.jobs.store import Job, JobStore
from backend.model_access import check_plan_access
from backend.model_gate import check_job_model
from backend.models import acquire
from backend.models.cache import ModelCache
from backend.models.loader import LoadedModel
from backend.models.resolve import catalogue
from backend.models.resolve.hardware_names import machine_name

MEASURE = "measure"  # the kind of every measurement job
MEASURED_TASKS: tuple[str, ...] = (
    catalogue.SENTIMENT,
    catalogue.TRANSLATION,
    catalogue.IMAGE_CLASSIFICATION,
    catalogue.TEXT_GENERATION,
)
INPUT_FILE = "measure.json"
_MB = 2**20
# Enough single requests for a p95 that is not the maximum alone, few enough for a CPU in a minute.
_TEXTS_EN = (
    "The delivery was fast and the product works well.",
    "I waited two weeks and nobody answered my emails.",
    "The new branch opens on Monday at nine.",
    "Battery life is shorter than the advert promised.",
    "Our support team solved the problem in ten minutes.",
    "The invoice lists the wrong amount for March.",
    "Patients can now book appointments online.",
    "The loan application needs two more documents.",
    "Students liked the interactive exercises a lot.",
    "The factory line stopped twice because of a sensor fault.",
    "The film was long but the ending was worth it.",
    "Please send the signed contract by Friday.",
)
_TEXTS_ZH = (
    "快递很快，产品也很好用。",
    "我等了两个星期，没有人回复我的邮件。",
    "新网点周一上午九点开业。",
    "电池续航比广告说的短。",
    "客服十分钟就解决了问题。",
    "三月份的发票金额有误。",
    "患者现在可以在网上预约挂号。",
    "贷款申请还需要两份材料。",
    "学生们很喜欢互动练习。",
    "生产线因传感器故障停了两次。",
    "电影很长，但结局值得。",
    "请在周五前寄回签好的合同。",
)
_PROMPTS = _TEXTS_EN[:6]
_NEW_TOKENS = 16
_SAMPLE_SECONDS = 0.01


@dataclass(frozen=True)
class MeasureRequest(ModelRequest):
    """Which task's model to measure (the job's stored parameters)."""

    use_case_id: str = ""

    @property
    def title(self) -> str:
        """The job's title: what is measured."""
        return f"{self.task}: {self.model_ref}"


def fixed_inputs(task: str, model_ref: str) -> list[Any]:
    """The fixed inputs of one task (a translation model gets sentences in its source language)."""
    if task == catalogue.SENTIMENT:
        return list(_TEXTS_EN[:6] + _TEXTS_ZH[:6])
    if task == catalogue.TRANSLATION:
        spec = catalogue.find_spec(model_ref, task)
        return list(_TEXTS_ZH if spec and spec.language_pair[:1] == ("zh",) else _TEXTS_EN)
    if task == catalogue.IMAGE_CLASSIFICATION:
        return [image_classification.read_sample(path.stem) for path in image_classification.sample_images()]
    return list(_PROMPTS)


def _request_runner(task: str, loaded: LoadedModel) -> tuple[Callable[[Any], None], str]:
    """One request of ``task`` on ``loaded``, and the unit a request is counted in."""
    if task == catalogue.SENTIMENT:
        return (lambda text: sentiment.classify(loaded, [text], batch_size=1)), _("text")
    if task == catalogue.TRANSLATION:
        return (lambda text: translation.translate(loaded, [text], batch_size=1)), _("sentence")
    if task == catalogue.IMAGE_CLASSIFICATION:
        return (
            lambda data: image_classification.classify_images(
                loaded, [uploads.open_image(data, "sample")], batch_size=1
            )
        ), _("image")
    options = text_generation.GenerationOptions(temperature=0.0, top_p=1.0, max_new_tokens=_NEW_TOKENS)
    return (lambda prompt: text_generation.generate(loaded, [prompt], options, batch_size=1)), _("reply")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (``fraction`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _PeakResident(threading.Thread):
    """The process's peak resident memory while it runs (sampled; the last reading is taken at stop)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(_SAMPLE_SECONDS):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def stop(self) -> int:
        self._stopped.set()
        self.join()
        return max(self.peak, self._process.memory_info().rss)


def cpu_model() -> str:
    """The machine's CPU model as the kernel names it, with its core count."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return machine_name(name, os.cpu_count() or 1)


def copy_bandwidth_gb_s(megabytes: int = 64, copies: int = 8) -> float:
    """This CPU's achievable memory bandwidth now: bytes read and written by array copies per second."""
    source = np.ones(megabytes * _MB // 8)
    target = np.empty_like(source)
    started = time.perf_counter()
    for _copy in range(copies):
        np.copyto(target, source)
    return round(2 * source.nbytes * copies / (time.perf_counter() - started) / 1e9, 1)


def measure_model(
    request: MeasureRequest, reporter: Reporter, owner: str, settings: Settings, job_id: str
) -> SpeedRecord:
    """Load the model (through ``acquire``), run the fixed inputs one by one, and record the figures."""
    gc.collect()
    peak = _PeakResident()
    start_rss = peak.peak
    peak.start()
    cache = ModelCache(settings.model_memory_mb * _MB, settings=settings)
    cuda = cache.device.kind == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        loaded = acquire.acquire(
            request.task, request.model_ref, cache, lambda plan: check_plan_access(plan, owner, settings),
            settings=settings,
        )  # fmt: skip
        run_one, unit = _request_runner(request.task, loaded)
        inputs = fixed_inputs(request.task, request.model_ref)
        run_one(inputs[0])  # warm-up: first-call costs are not a request's latency
        latencies: list[float] = []
        for done, item in enumerate(inputs, start=1):
            if reporter.should_stop():
                raise JobCancelled(_("The measurement was cancelled."))
            started = time.perf_counter()
            run_one(item)
            latencies.append((time.perf_counter() - started) * 1000)
            reporter.progress(done, len(inputs), 0.0)
    finally:
        peak_rss = peak.stop()
    gpu_mb = torch.cuda.max_memory_allocated() / _MB if cuda else 0.0
    return SpeedRecord(
        task=request.task,
        model=request.model_ref,
        latency_p50_ms=round(percentile(latencies, 0.5), 3),
        latency_p95_ms=round(percentile(latencies, 0.95), 3),
        throughput=round(len(latencies) / (sum(latencies) / 1000), 3),
        unit=unit,
        peak_memory_mb=round(max(0, peak_rss - start_rss) / _MB + gpu_mb, 1),
        device=loaded.device.name,
        machine=cpu_model(),
        measured_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        origin=MEASURED,
        method=_("{n} fixed inputs, one request at a time after one warm-up (job {job})").format(
            n=len(latencies), job=job_id
        ),
        items=len(latencies),
        memory_bandwidth_gb_s=None if cuda else copy_bandwidth_gb_s(),
    )


def run_measure_job(request: MeasureRequest, job: Job, reporter: Reporter, settings: Settings) -> JobResult:
    """Run a queued measurement (the worker calls this through ``MEASURE_HANDLER``).

    Returns:
        The job's metrics (the figures) and artefacts (the record's path in the state folder).
    """
    reporter.log(_("Measuring {model} for {task}").format(model=request.model_ref, task=request.task))
    record = measure_model(request, reporter, job.owner, settings, job.id)
    path = save_measurement(record, job.id, settings)
    reporter.log(
        _("p50 {p50:.1f} ms, p95 {p95:.1f} ms on {device}").format(
            p50=record.latency_p50_ms, p95=record.latency_p95_ms, device=record.device
        )
    )
    return record.to_dict(), {"measurement": str(path)}


def _check_submission(request: MeasureRequest, owner: str, settings: Settings) -> None:
    if request.task not in MEASURED_TASKS:
        raise InvalidInputError(
            _("There is no demo model to measure for {task}.").format(task=request.task),
            _("Measure one of: {tasks}.").format(tasks=", ".join(MEASURED_TASKS)),
        )
    check_job_model(request.task, request.model_ref, owner, settings)


def _write_input(request: MeasureRequest) -> Callable[[Path], dict[str, Any]]:
    def write(run_dir: Path) -> dict[str, Any]:
        count = len(fixed_inputs(request.task, request.model_ref))
        (run_dir / INPUT_FILE).write_text(json.dumps({"inputs": count}), encoding="utf-8")
        return {"rows": count, "items": count, "skipped": 0}

    return write


def submit_measure_job(request: MeasureRequest, owner: str = "", settings: Settings | None = None) -> Job:
    """Check and queue a measurement of ``request.task``'s model.

    Raises:
        InvalidInputError: a task without a demo model (nothing is queued).
        ShowcaseError: the model cannot load here, or the queue cannot be reached.
    """
    return submit.submit_job(MEASURE_KIND, request, _write_input(request), owner, settings)


def list_measure_jobs(owner: str, settings: Settings | None = None) -> list[Job]:
    """The owner's measurement jobs, newest first (reads only)."""
    return JobStore(settings=settings).list_jobs(owner=owner, kinds=(MEASURE,))


MEASURE_HANDLER = model_request_handler(
    MeasureRequest,
    run_measure_job,
    N_("The measurement"),
    N_("measurement"),
    N_("Pick a smaller model"),
    N_("Measuring"),
)

MEASURE_KIND = model_request_kind(
    MEASURE, N_("measurement"), MEASURE_HANDLER, MeasureRequest, _check_submission, (INPUT_FILE,)
)
