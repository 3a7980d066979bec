"""The compression lab: every variant of one model measured on this machine, as a job.

A variant is one of the candidate paths the ``auto`` engine setting checks (``engine_record``:
float32, bfloat16, dynamic or weight-only int8, ONNX Runtime, CTranslate2, llama.cpp's 8-bit GGUF
Q8_0), measured the same way (``path_check.run_isolated``: each in its own process, the same fixed
inputs, compared with float32): its weights' size, the peak memory its load added, p50 and p95 of
one request (or of one token, for chat), and its agreement with full precision. The job writes one
table (``lab.json``, a formula-escaped ``lab.csv``), one card per variant, and a zip of each variant
that exists as files (an engine's copy of the model); torch's own variants are made at load time
from the model's weights and are named by the setting that makes them.
"""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from backend import uploads
from backend.config import Settings, get_settings
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.inference import path_check
from backend.jobs import submit
from backend.jobs.kinds import ModelRequest, model_request_kind
from backend.jobs.progress import ProgressCallback, Reporter
from backend.jobs.store import Job, JobStore
from backend.jobs.worker import JobHandler
from backend.model_gate import check_job_model
from backend.model_registry import display_name
from backend.models.engines import runtimes
from backend.models.resolve import catalogue, engine_choice, engine_record
from backend.models.resolve.plan import plan_load

LAB = "compression-lab"
INPUT_FILE = "lab-request.json"
RESULT_FILE = "lab.json"
RESULT_CSV = "lab.csv"
CARDS_FOLDER = "cards"
VARIANTS_FOLDER = "variants"
LAB_TASKS = tuple(engine_record.TASK_PATHS)
# Variants the issue names that this app cannot make yet, each with the reason shown in the table.
NOT_MEASURED = {
    catalogue.TEXT_GENERATION: (
        ("GGUF Q4_K_M", N_("not measured: the app's llama.cpp engine makes and runs only its 8-bit (Q8_0) copy")),
    ),
}
# How to run each torch variant in the app (they are made at load time, not stored).
_SETTING_OF = {
    "torch-float32": "LSM_CPU_ENGINE=torch LSM_CPU_BFLOAT16=off",
    "torch-bfloat16": "LSM_CPU_ENGINE=torch LSM_CPU_BFLOAT16=on",
    "int8-dynamic": "LSM_CPU_ENGINE=torch LSM_CPU_QUANTIZE=int8",
    "int8-weight-only": "LSM_CPU_ENGINE=torch LSM_CPU_QUANTIZE=int8",
}


@dataclass(frozen=True)
class LabRequest(ModelRequest):
    """Which model to measure for which task."""

    @property
    def title(self) -> str:
        """The job's title."""
        return _("Compression lab: {model}").format(model=display_name(self.model_ref))


def _check(request: LabRequest, owner: str, settings: Settings) -> None:
    if request.task not in LAB_TASKS:
        raise InvalidInputError(
            _("The lab measures {tasks}; not {task!r}.").format(tasks=", ".join(LAB_TASKS), task=request.task)
        )
    plan = check_job_model(request.task, request.model_ref, owner, settings)
    if plan.folder is None:
        raise InvalidInputError(
            _("The lab measures a model on this server's disk."), _("Download the model on the Models page first.")
        )


def submit_lab_job(request: LabRequest, owner: str = "", settings: Settings | None = None) -> Job:
    """Check the request and queue the lab run.

    Raises:
        ShowcaseError: a task the lab does not measure, a model that cannot load here or is not
            the owner's, or the queue cannot be reached (nothing is left behind).
    """

    def write_input(run_dir: Path) -> dict[str, Any]:
        (run_dir / INPUT_FILE).write_text(json.dumps(request.to_dict()), encoding="utf-8")
        return {"items": path_check.inputs_for(request.task)}

    return submit.submit_job(LAB_KIND, request, write_input, owner, settings)


def list_lab_jobs(owner: str, settings: Settings | None = None) -> list[Job]:
    """The owner's lab runs, newest first."""
    return JobStore(settings=settings).list_jobs(owner=owner, kinds=(LAB,))


def _row(task: str, outcome: path_check.PathOutcome, reference: dict, reference_seconds: float) -> dict[str, Any]:
    result = path_check.path_result(task, outcome, reference, reference_seconds)
    seconds = (outcome.measured or {}).get("seconds") or []
    chat = task == catalogue.TEXT_GENERATION
    p50 = statistics.median(seconds) if seconds else 0.0
    p95 = sorted(seconds)[min(len(seconds) - 1, int(0.95 * len(seconds)))] if seconds else 0.0
    return {
        "variant": outcome.path.name,
        "label": _(outcome.path.label),
        "passed": result.passed,
        "agreement": result.agreement if result.passed else result.reason,
        "weights_mb": result.figures.get("memory_mb", 0.0),
        "load_peak_mb": result.figures.get("load_peak_mb", 0.0),
        "p50_ms": round(p50 * 1000, 3),
        "p95_ms": round(p95 * 1000, 3),
        "tokens_per_s": round(1 / p50, 2) if chat and p50 else None,
        "speedup": result.speedup,
        **{name: value for name, value in result.figures.items() if name not in ("memory_mb", "load_peak_mb")},
    }


def card_text(request: LabRequest, row: dict[str, Any], machine: dict[str, str]) -> str:
    """A variant's card: what it is, how it agreed with float32, how fast it ran, where."""
    speed = (
        _("{rate} tokens/s").format(rate=row["tokens_per_s"])
        if row.get("tokens_per_s")
        else _("p50 {p50} ms, p95 {p95} ms per request").format(p50=row["p50_ms"], p95=row["p95_ms"])
    )
    lines = [
        f"# {display_name(request.model_ref)}: {row['label']}",
        "",
        _("Measured by the Large Model Showcase compression lab on {cpu} ({threads} threads).").format(
            cpu=machine.get("cpu", "?"), threads=machine.get("threads", "?")
        ),
        "",
        _("- Agreement with float32: {agreement}").format(agreement=row["agreement"]),
        _("- Speed: {speed} ({speedup}x float32)").format(speed=speed, speedup=row["speedup"]),
        _("- Weights: {weights} MB; load peak: {peak} MB").format(weights=row["weights_mb"], peak=row["load_peak_mb"]),
    ]
    if row["variant"] in _SETTING_OF:
        lines.append(_("- Run it in the app with: `{setting}`").format(setting=_SETTING_OF[row["variant"]]))
    return "\n".join(lines) + "\n"


def _zip_engine_copy(folder: Path, variant: str, target: Path) -> Path | None:
    """The engine's copy of the model as a zip (``None`` for torch's variants, made at load time)."""
    path = engine_record.PATHS[variant]
    if path.engine == engine_choice.TORCH:
        return None
    copies = runtimes.copy_folders(folder, path.engine, "int8" if path.int8 else "")
    if not copies:
        return None
    target.mkdir(parents=True, exist_ok=True)
    return Path(shutil.make_archive(str(target / variant), "zip", copies[-1]))


def run_lab_job(
    job: Job,
    progress_callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    settings: Settings | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Measure every variant (the worker calls this through ``LAB_HANDLER``).

    Raises:
        JobCancelled: ``should_stop`` returned True while a variant ran.
        ShowcaseError: the model does not run in torch float32 here.
    """
    settings = settings or get_settings()
    reporter = Reporter(progress_callback, should_stop)
    request = LabRequest.from_params(job.params)
    run_dir = Path(job.run_dir)
    folder = plan_load(request.task, request.model_ref, settings).folder

    def before_each(done: int, total: int, path: engine_record.CandidatePath) -> None:
        reporter.log(_("Measuring {variant}").format(variant=_(path.label)))
        reporter.progress(done, total, 0.0, force=True)

    outcomes, reference, reference_seconds = path_check.measure_against_float32(
        request.task,
        request.model_ref,
        path_check.applicable_paths(request.task),
        settings,
        before_each,
        should_stop=reporter.should_stop,
    )
    rows = [_row(request.task, outcome, reference, reference_seconds) for outcome in outcomes]
    rows += [{"variant": name, "label": name, "passed": False, "agreement": _(reason)}
             for name, reason in NOT_MEASURED.get(request.task, ())]  # fmt: skip
    machine = engine_record.machine()
    (run_dir / CARDS_FOLDER).mkdir(exist_ok=True)
    for row in rows:
        if row["variant"] in engine_record.PATHS and row.get("p50_ms"):
            (run_dir / CARDS_FOLDER / f"{row['variant']}.md").write_text(
                card_text(request, row, machine), encoding="utf-8"
            )
            if folder is not None:
                _zip_engine_copy(folder, row["variant"], run_dir / VARIANTS_FOLDER)
    result = {"task": request.task, "model": request.model_ref, "machine": machine, "rows": rows}
    (run_dir / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")
    (run_dir / RESULT_CSV).write_bytes(uploads.to_safe_csv(pd.DataFrame(rows)))
    reporter.progress(len(outcomes), len(outcomes), 0.0, force=True)
    return {"variants": len(rows), "passed": sum(bool(row["passed"]) for row in rows)}, {
        "result": str(run_dir / RESULT_FILE)
    }


def read_lab(job: Job) -> dict[str, Any] | None:
    """A finished lab run's table, machine and model; None until there is one."""
    try:
        return json.loads((Path(job.run_dir) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def variant_files(job: Job, variant: str) -> tuple[Path | None, Path | None]:
    """A variant's card and zip in a finished run's folder (each None when absent)."""
    name = Path(variant).name  # a variant name from our own table, never a path
    card = Path(job.run_dir) / CARDS_FOLDER / f"{name}.md"
    archive = Path(job.run_dir) / VARIANTS_FOLDER / f"{name}.zip"
    return (card if card.is_file() else None), (archive if archive.is_file() else None)


def _remove_results(job: Job) -> None:
    run_dir = Path(job.run_dir)
    for name in (RESULT_FILE, RESULT_CSV):
        (run_dir / name).unlink(missing_ok=True)
    for name in (CARDS_FOLDER, VARIANTS_FOLDER):
        shutil.rmtree(run_dir / name, ignore_errors=True)


LAB_HANDLER = JobHandler(
    run=run_lab_job,
    doing="The compression lab",
    output="measurements",
    memory_advice="Unload other models first, or measure a smaller model",
    phase="Measuring",
    cleanup=_remove_results,
)

LAB_KIND = model_request_kind(LAB, "compression lab run", LAB_HANDLER, LabRequest, _check, (INPUT_FILE,))
