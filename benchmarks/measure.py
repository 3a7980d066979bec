"""Clocks, percentiles, peak memory and a description of the machine a run was taken on.

Peak resident memory per phase comes from Linux's ``VmHWM`` after resetting it through
``/proc/self/clear_refs`` (exact and free); elsewhere a sampling thread reads psutil's RSS. On CUDA
the clock synchronises the device first, since kernels run asynchronously and a bare wall clock
would time only their launch.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import math
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import torch

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
# 5 ms catches the short allocation spikes of a forward pass without costing a core.
_SAMPLE_SECONDS = 0.005
MB = 2**20


def size_mb(num_bytes: float) -> float:
    """``num_bytes`` in MB for a report: one decimal from 1 MB up, three significant figures below,
    so a small model (a tiny test model in bfloat16 is 0.04 MB) never reads as 0.0 MB."""
    megabytes = num_bytes / MB
    if megabytes >= 1 or megabytes == 0:
        return round(megabytes, 1)
    return float(f"{megabytes:.3g}")


def synchronize(device: str) -> None:
    """Wait for queued GPU work so that a clock reading covers it."""
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()


# Runtimes keep their worker threads spinning for a while after a run (ONNX Runtime's intra-op
# pool, libgomp's torch pool; CTranslate2's too), and a path timed in that while shares the cores
# with them: on a 2-core host ONNX Runtime's spinning threads burned about 23 ms of CPU inside
# each 10 ms torch request that followed an ONNX one, so ours read x1.4-3.5 the baseline in-run
# while the two were equal timed alone (benchmarks/RESULTS.md, "Portability"). Every timed call
# therefore starts once the process's other threads sleep: each path is timed as if alone.
_QUIET_POLL_SECONDS = 0.001
_QUIET_WAIT_LIMIT_SECONDS = 0.5
_TASKS = Path("/proc/self/task")  # the threads of whichever process reads it


def thread_cpu_ns() -> dict[int, int]:
    """CPU time each of this process's threads has used so far, in ns, by thread id (Linux's
    ``schedstat``; empty elsewhere)."""
    used: dict[int, int] = {}
    if not _TASKS.is_dir():
        return used
    for task in _TASKS.iterdir():
        with suppress(OSError, ValueError, IndexError):  # a thread may end while it is read
            used[int(task.name)] = int((task / "schedstat").read_text().split()[0])
    return used


def _runnable_threads() -> set[int]:
    """Ids of this process's threads that are running or waiting for a CPU (state R): a spinning
    thread is, even while a busy host keeps it off the cores; a parked one sleeps (S)."""
    runnable: set[int] = set()
    if not _TASKS.is_dir():
        return runnable
    for task in _TASKS.iterdir():
        with suppress(OSError, ValueError, IndexError):
            if (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R":
                runnable.add(int(task.name))
    return runnable


def wait_for_quiet_threads(limit_seconds: float = _QUIET_WAIT_LIMIT_SECONDS) -> bool:
    """Wait until no other thread of the process is running or spinning; False if one still was
    after ``limit_seconds`` (a thread that never idles), so a caller is never stuck."""
    me = threading.get_native_id()
    deadline = time.perf_counter() + limit_seconds
    while _runnable_threads() - {me}:
        if time.perf_counter() > deadline:
            return False
        time.sleep(_QUIET_POLL_SECONDS)
    return True


def timed(call: Callable[[], Any], device: str = "cpu") -> tuple[float, Any]:
    """Seconds ``call`` takes (device work included) and what it returned, timed from a moment
    when no other thread of the process (another path's idle pool) is still spinning."""
    synchronize(device)
    wait_for_quiet_threads()
    started = time.perf_counter()
    result = call()
    synchronize(device)
    return time.perf_counter() - started, result


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (``fraction`` in 0..1) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rss_bytes() -> int:
    """Resident memory of this process now."""
    return psutil.Process().memory_info().rss


def _read_hwm_bytes() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


@dataclass
class MemoryReading:
    """Peak memory of one phase. ``delta`` is the peak above the resident memory at its start;
    ``gpu_peak_mb`` likewise counts only CUDA memory allocated during the phase."""

    peak_rss_mb: float = 0.0
    delta_rss_mb: float = 0.0
    gpu_peak_mb: float | None = None
    method: str = ""
    # Set by ``combined``: what the first of two phases (a load) added on its own.
    load_delta_rss_mb: float | None = None


class _RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_bytes()
        self._stop_event = threading.Event()

    def run(self) -> None:
        process = psutil.Process()
        while not self._stop_event.wait(_SAMPLE_SECONDS):
            self.peak = max(self.peak, process.memory_info().rss)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, rss_bytes())


@contextmanager
def peak_memory(device: str = "cpu") -> Iterator[MemoryReading]:
    """Measure the peak resident (and CUDA) memory of the enclosed block.

    The reading is filled in when the block exits.
    """
    gc.collect()
    reading = MemoryReading()
    start = rss_bytes()
    use_hwm = _reset_hwm() and _read_hwm_bytes() is not None
    sampler = None if use_hwm else _RssSampler()
    if sampler:
        sampler.start()
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    gpu_start = 0
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gpu_start = torch.cuda.memory_allocated()
    try:
        yield reading
    finally:
        peak = (_read_hwm_bytes() or rss_bytes()) if use_hwm else sampler.stop()  # type: ignore[union-attr]
        reading.peak_rss_mb = round(peak / MB, 1)
        reading.delta_rss_mb = round(max(0, peak - start) / MB, 1)
        reading.method = "VmHWM" if use_hwm else "psutil sampling"
        if cuda:
            torch.cuda.synchronize()
            reading.gpu_peak_mb = round((torch.cuda.max_memory_allocated() - gpu_start) / MB, 1)


def combined(first: MemoryReading, second: MemoryReading) -> MemoryReading:
    """One reading for two phases run back to back: the higher peak, counted from the first
    phase's start; ``load_delta_rss_mb`` keeps what the first (the load) added on its own."""
    start = first.peak_rss_mb - first.delta_rss_mb
    peak = max(first.peak_rss_mb, second.peak_rss_mb)
    gpu = None if first.gpu_peak_mb is None else max(first.gpu_peak_mb, (second.gpu_peak_mb or 0.0))
    return MemoryReading(peak, round(max(0.0, peak - start), 1), gpu, first.method, first.delta_rss_mb)


def return_freed_memory() -> None:
    """Hand memory freed by Python and torch back to the system (glibc keeps it otherwise)."""
    gc.collect()
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def warm_page_cache(folder: str | Path) -> None:
    """Read a model folder once so the first of two loads does not pay for the disk alone."""
    for path in Path(folder).rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (other work on the machine makes timings noisy)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


@dataclass
class Environment:
    """Where and when a run was taken."""

    date_utc: str
    device: str
    device_kind: str
    cpu: str
    cpu_cores: int
    torch_threads: int
    memory_gb: float
    python: str
    versions: dict[str, str]
    load_average_start: list[float]
    load_average_end: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def describe_environment(device_kind: str, device_name: str) -> Environment:
    """The machine, library versions, date and load at the start of a run."""
    return Environment(
        date_utc=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        device=device_name,
        device_kind=device_kind,
        cpu=_cpu_name(),
        cpu_cores=os.cpu_count() or 1,
        torch_threads=torch.get_num_threads(),
        memory_gb=round(psutil.virtual_memory().total / 2**30, 1),
        python=platform.python_version(),
        versions={
            p: _version(p)
            for p in ("torch", "transformers", "tokenizers", "onnxruntime", "ctranslate2", "streamlit", "psutil")
        },
        load_average_start=load_average(),
    )
