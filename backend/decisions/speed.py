"""How fast each task's model runs, and where that figure comes from.

Three origins, always named: a measurement this server made (the ``measure`` job writes one JSON
file per run into the state folder), the benchmark's recorded figures (``benchmarks/results/
recorded-*.json``, with the benchmark's date and machine), and an estimate for hardware not at hand,
scaled from a measurement by the ratio of memory bandwidths (inference of these models reads every
weight once per forward pass, so it is bound by memory bandwidth; the benchmark's roofline shows
it). Nothing here is a constant figure of speed: every number is read from one of these files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from backend.config import PROJECT_ROOT, Settings, get_settings
from backend.i18n import N_, _
from backend.models.resolve.hardware_names import said_hardware
from backend.records import JsonRecord

MEASURED, BENCHMARK, ESTIMATE = "measured", "benchmark", "estimate"
# Where a figure comes from, as the charts name it beside its task.
ORIGIN_LABELS = {MEASURED: N_("measured"), BENCHMARK: N_("benchmark"), ESTIMATE: N_("estimate")}
MEASUREMENTS_FOLDER = "measurements"
RECORDED_DIR = PROJECT_ROOT / "benchmarks" / "results"
RECORDED_GLOB = "recorded-*.json"

# Accelerators' data-sheet peaks, for estimates on hardware not at hand and the benchmark's roofline
# (benchmarks/roofline.py reads this table): (name fragment, memory bandwidth GB/s, dense
# half-precision TFLOPS); the first fragment that matches wins.
GPU_DATA_SHEETS: tuple[tuple[str, float, float], ...] = (
    ("H200", 4800, 989),
    ("H100 NVL", 3900, 835),
    ("H100 PCIe", 2000, 756),
    ("H100", 3350, 989),
    ("GH200", 4000, 989),
    ("A100-SXM4-80GB", 2039, 312),
    ("A100 80GB", 2039, 312),
    ("A100", 1555, 312),
    ("L40S", 864, 362),
    ("L40", 864, 181),
    ("L4", 300, 121),
    ("A10G", 600, 125),
    ("A10", 600, 125),
    ("RTX 4090", 1008, 165),
    ("V100", 900, 125),
    ("T4", 320, 65),
)


@dataclass(frozen=True)
class SpeedRecord(JsonRecord):
    """One task model's speed on one machine, and how it was obtained.

    ``latency_*_ms`` are single requests one after another (after a warm-up); ``throughput`` is
    requests per second at that pace; ``peak_memory_mb`` is what loading and running the model
    added to the process's peak resident memory (plus accelerator memory on a GPU).
    """

    task: str
    model: str
    latency_p50_ms: float
    latency_p95_ms: float
    throughput: float
    unit: str
    peak_memory_mb: float
    device: str
    machine: str
    measured_at: str
    origin: str
    method: str
    items: int = 0
    memory_bandwidth_gb_s: float | None = None
    # A use case's figure made of its tasks' figures: each part's task and provenance.
    combined_from: str = ""

    json_properties = ("runs_on_cpu",)

    @property
    def runs_on_cpu(self) -> bool:
        """True when the figure was taken on a CPU (so the model needs no accelerator)."""
        return self.device.strip().lower().startswith("cpu")

    @property
    def date(self) -> str:
        """The day of the figure, ``YYYY-MM-DD``."""
        return self.measured_at[:10]

    def provenance(self) -> str:
        """Where the figure comes from, in words (shown beside every use of it)."""
        if self.combined_from:
            return self.combined_from
        if self.origin == MEASURED:
            return _("measured on this server, {machine}, {device}, {date}").format(
                machine=said_hardware(self.machine), device=said_hardware(self.device), date=self.date
            )
        if self.origin == BENCHMARK:
            return _("benchmark record, {machine}, {device}, {date}").format(
                machine=said_hardware(self.machine), device=said_hardware(self.device), date=self.date
            )
        return _("estimate for {device}: {method}").format(device=said_hardware(self.device), method=self.method)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SpeedRecord:
        """The record written by ``to_dict``."""
        names = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in names})  # type: ignore[arg-type]


def measurements_dir(settings: Settings | None = None) -> Path:
    """Where the ``measure`` job writes its records (in the state folder)."""
    return (settings or get_settings()).state_dir / MEASUREMENTS_FOLDER


def save_measurement(record: SpeedRecord, name: str, settings: Settings | None = None) -> Path:
    """Write one measurement as ``<task>-<name>.json`` into the measurements folder."""
    folder = measurements_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.task}-{name}.json"
    path.write_text(json.dumps(record.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _read_records(paths: list[Path]) -> list[SpeedRecord]:
    records = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            items = data if isinstance(data, list) else data.get("records", [data])
            records += [SpeedRecord.from_dict(item) for item in items]
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # a damaged file is skipped; the other figures still count
    return records


def _newest_per_task(records: list[SpeedRecord]) -> dict[str, SpeedRecord]:
    newest: dict[str, SpeedRecord] = {}
    for record in records:
        if record.task not in newest or record.measured_at > newest[record.task].measured_at:
            newest[record.task] = record
    return newest


def newest_measurements(settings: Settings | None = None) -> dict[str, SpeedRecord]:
    """The newest measurement this server made of each task, by task."""
    return _newest_per_task(_read_records(sorted(measurements_dir(settings).glob("*.json"))))


def recorded_figures(folder: Path | None = None) -> dict[str, SpeedRecord]:
    """The benchmark's newest recorded figure of each task (``recorded-*.json``), by task."""
    return _newest_per_task(_read_records(sorted((folder or RECORDED_DIR).glob(RECORDED_GLOB))))


def speed_by_task(settings: Settings | None = None, recorded_folder: Path | None = None) -> dict[str, SpeedRecord]:
    """Each task's figure: this server's newest measurement, else the benchmark's recorded one."""
    return {**recorded_figures(recorded_folder), **newest_measurements(settings)}


def data_sheet_bandwidth(hardware: str) -> float | None:
    """The data-sheet memory bandwidth (GB/s) of a named accelerator, or None when unknown."""
    for fragment, bandwidth, _tflops in GPU_DATA_SHEETS:
        if fragment.lower() in hardware.lower():
            return bandwidth
    return None


def estimate_on(record: SpeedRecord, hardware: str, bandwidth_gb_s: float | None = None) -> SpeedRecord | None:
    """``record`` scaled to other hardware by the memory-bandwidth bound, marked as an estimate.

    Latency scales with measured bandwidth / target bandwidth and throughput with its inverse;
    memory is the model's own and stays. Returns None when the record has no bandwidth reading
    or the target's bandwidth is unknown (no estimate is better than an invented one).

    Args:
        record: a measured or recorded figure with ``memory_bandwidth_gb_s``.
        hardware: the target, e.g. "NVIDIA H100" (looked up in the data-sheet table) or a name
            for ``bandwidth_gb_s``.
        bandwidth_gb_s: the target's bandwidth when it is not in the table (e.g. a larger CPU).
    """
    target = bandwidth_gb_s or data_sheet_bandwidth(hardware)
    if not record.memory_bandwidth_gb_s or not target or target <= 0:
        return None
    ratio = record.memory_bandwidth_gb_s / target
    method = _(
        "memory-bandwidth bound: {origin} figure of {date} on {machine} ({measured:g} GB/s) scaled to {target:g} GB/s"
    ).format(origin=record.origin, date=record.date, machine=record.machine, measured=record.memory_bandwidth_gb_s,
             target=target)  # fmt: skip
    return replace(
        record,
        latency_p50_ms=round(record.latency_p50_ms * ratio, 6),
        latency_p95_ms=round(record.latency_p95_ms * ratio, 6),
        throughput=round(record.throughput / ratio, 6),
        device=hardware,
        origin=ESTIMATE,
        method=method,
        memory_bandwidth_gb_s=target,
    )


# The weakest origin among a combination's parts is the combination's: one estimate makes it an estimate.
_ORIGIN_ORDER = (MEASURED, BENCHMARK, ESTIMATE)


def combined_record(name: str, records: list[SpeedRecord]) -> SpeedRecord:
    """One use case's figure from its tasks' figures: each request runs every task once, in turn.

    Latencies add up (so the p95 is an upper bound: the parts' slowest requests seldom coincide),
    the pace is 1 / (sum of 1 / each pace), memory adds up (all models loaded at once), and the
    date is the oldest part's.

    Raises:
        ValueError: no records.
    """
    if not records:
        raise ValueError("a use case needs at least one task figure")
    if len(records) == 1:
        return replace(records[0], task=name)
    origin = max((record.origin for record in records), key=_ORIGIN_ORDER.index)
    return SpeedRecord(
        task=name,
        model="; ".join(record.model for record in records),
        latency_p50_ms=sum(record.latency_p50_ms for record in records),
        latency_p95_ms=sum(record.latency_p95_ms for record in records),
        throughput=1 / sum(1 / record.throughput for record in records)
        if all(r.throughput > 0 for r in records)
        else 0.0,
        unit=_("request"),
        peak_memory_mb=sum(record.peak_memory_mb for record in records),
        device=" + ".join(dict.fromkeys(record.device for record in records)),
        machine=" + ".join(dict.fromkeys(record.machine for record in records)),
        measured_at=min(record.measured_at for record in records),
        origin=origin,
        method=_("each request runs every task in turn: latencies and memory add up, p95 is an upper bound"),
        combined_from="; ".join(f"{record.task}: {record.provenance()}" for record in records),
    )
