"""The compression lab: every variant of one model measured on this machine, as a job.

A variant is one of the candidate paths the ``auto`` engine setting checks (``engine_record``:
float32, bfloat16, dynamic or weight-only int8, ONNX Runtime, CTranslate2, llama.cpp's 8-bit GGUF
Q8_0), plus, for chat, llama.cpp's 4-bit GGUF Q4_K_M (``engine_record.VARIANT_PATHS``), measured
the same way (``path_check.run_isolated``: each in its own process, the same fixed inputs, compared
with float32): its weights' size, the peak memory its load added, p50 and p95 of one request (or of
one token, for chat), and its agreement with full precision. The job writes one table
(``lab.json``, a formula-escaped ``lab.csv``), one card per variant, and a zip of each variant that
exists as files (an engine's copy of the model with the tokenizer it needs, up to the
``lab_download_mb`` setting); torch's own variants are made at load time from the model's weights
and are named by the setting that makes them.

With a labelled set (a classifier's texts and labels, an image classifier's images and labels
checked as the Compare view checks them, or a translator's sentences and reference translations),
every variant also answers those inputs (images are kept in the run folder, ``LABELLED_IMAGES``); ``lab.json`` keeps the answers, which the
Compare view's scoring (``backend.arena.compare.score_outputs``) turns into accuracy and macro-F1,
or chrF, with bootstrap intervals. Every variant a run measured is a model reference of its own
(``engine_record.variant_ref``): ``variant_choices`` offers them to the Compare views.
"""

from __future__ import annotations

import json
import shutil
import statistics
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from backend import uploads
from backend.config import Settings
from backend.errors import InvalidInputError
from backend.i18n import N_, _
from backend.inference import path_check
from backend.inference.engine_check import PathRunRequest
from backend.jobs import submit
from backend.jobs.kinds import JobResult, model_request_handler, model_request_kind
from backend.jobs.progress import Reporter
from backend.jobs.store import Job, JobStore
from backend.model_gate import check_job_model
from backend.model_registry import display_name
from backend.models.engines import runtimes
from backend.models.resolve import catalogue, engine_choice, engine_record
from backend.models.resolve.plan import plan_load
from backend.text_safety import plotly_text

LAB = "compression-lab"
INPUT_FILE = "lab-request.json"
RESULT_FILE = "lab.json"
RESULT_CSV = "lab.csv"
CARDS_FOLDER = "cards"
VARIANTS_FOLDER = "variants"
LABELLED_FILE = "labelled.json"
LABELLED_IMAGES = "labelled-images"
LAB_TASKS = tuple(engine_record.VARIANT_PATHS)
# Tasks whose variants a labelled set scores: a label per text or image, or a reference translation per sentence.
LABELLED_TASKS = (catalogue.SENTIMENT, catalogue.IMAGE_CLASSIFICATION, catalogue.TRANSLATION)
# Every row runs through every variant, each in its own process: a few minutes on two cores.
MAX_LABELLED_ROWS = 500
MAX_LABELLED_CHARS = 2000
_NOT_INSTALLED = N_("not measured: {package} is not installed on this server")
# The files beside a GGUF copy that make it usable: it carries no vocabulary of its own.
_TOKENIZER_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt")  # fmt: skip
# How to run each torch variant in the app (they are made at load time, not stored).
_SETTING_OF = {
    "torch-float32": "LSM_CPU_ENGINE=torch LSM_CPU_BFLOAT16=off",
    "torch-bfloat16": "LSM_CPU_ENGINE=torch LSM_CPU_BFLOAT16=on",
    "int8-dynamic": "LSM_CPU_ENGINE=torch LSM_CPU_QUANTIZE=int8",
    "int8-weight-only": "LSM_CPU_ENGINE=torch LSM_CPU_QUANTIZE=int8",
}


@dataclass(frozen=True)
class LabelledSet:
    """The user's held-out inputs and what each should give: a label, or a reference translation.
    For images, ``inputs`` are the images' names in the upload and ``images`` their bytes."""

    inputs: list[str]
    truth: list[str]
    images: list[bytes] | None = None


@dataclass(frozen=True)
class LabRequest(PathRunRequest):
    """Which model to measure for which task."""

    title_format = N_("Compression lab: {model}")
    input_file = INPUT_FILE


def _check(request: LabRequest, owner: str, settings: Settings) -> None:
    if request.task not in LAB_TASKS:
        raise InvalidInputError(
            _("The lab measures {tasks}; not {task!r}.").format(tasks=", ".join(LAB_TASKS), task=request.task)
        )
    plan = check_job_model(request.task, request.model_ref, owner, settings)
    if plan.variant:
        raise InvalidInputError(
            _("The lab measures a model, and makes its variants: pick the model itself, not one of its variants.")
        )
    if plan.folder is None:
        raise InvalidInputError(
            _("The lab measures a model on this server's disk."), _("Download the model on the Models page first.")
        )


def check_labelled(task: str, labelled: LabelledSet) -> None:
    """Refuse a labelled set the lab cannot score, before anything is queued.

    Raises:
        InvalidInputError: a task without labels, no rows, too many, rows without a label, or an
            input too long.
    """
    if task not in LABELLED_TASKS:
        raise InvalidInputError(
            _("A labelled set scores classifiers and translators; this run measures agreement only.")
        )
    if not labelled.inputs or len(labelled.inputs) != len(labelled.truth):
        raise InvalidInputError(_("The labelled set needs an input and a label on every row."))
    if len(labelled.inputs) > MAX_LABELLED_ROWS:
        raise InvalidInputError(
            _("The labelled set has {count:,} rows; the lab takes at most {limit:,}.").format(
                count=len(labelled.inputs), limit=MAX_LABELLED_ROWS
            ),
            _("Upload a sample of the rows."),
        )
    if any(not str(text).strip() for text in [*labelled.inputs, *labelled.truth]):
        raise InvalidInputError(_("The labelled set has an empty input or label."))
    if any(len(str(text)) > MAX_LABELLED_CHARS for text in labelled.inputs):
        raise InvalidInputError(
            _("An input of the labelled set is longer than {limit:,} characters.").format(limit=MAX_LABELLED_CHARS)
        )
    if (task == catalogue.IMAGE_CLASSIFICATION) != (labelled.images is not None):
        raise InvalidInputError(
            _("An image classifier's labelled set is a zip of labelled images; other tasks take a table.")
        )
    if labelled.images is not None:
        if len(labelled.images) != len(labelled.inputs):
            raise InvalidInputError(_("The labelled set needs an input and a label on every row."))
        # The same bounds as the zip the Compare view reads them from.
        uploads.check_size(_("The labelled set"), sum(map(len, labelled.images)), uploads.MAX_UNZIPPED_BYTES)
        for data, name in zip(labelled.images, labelled.inputs, strict=True):
            uploads.image_size(data, name)


def submit_lab_job(
    request: LabRequest, owner: str = "", settings: Settings | None = None, labelled: LabelledSet | None = None
) -> Job:
    """Check the request (and the labelled set, if any) and queue the lab run.

    Raises:
        ShowcaseError: a task the lab does not measure, a model that cannot load here or is not
            the owner's, a labelled set it cannot score, or the queue cannot be reached (nothing is
            left behind).
    """
    if labelled is not None:
        check_labelled(request.task, labelled)

    def write_input(run_dir: Path) -> dict[str, Any]:
        size = request.write_input(run_dir)
        if labelled is not None:
            rows = {"inputs": [str(text) for text in labelled.inputs], "truth": [str(text) for text in labelled.truth]}
            if labelled.images is not None:
                rows["inputs"] = _write_images(run_dir / LABELLED_IMAGES, labelled)
            (run_dir / LABELLED_FILE).write_text(json.dumps(rows), encoding="utf-8")
            size["items"] += len(labelled.inputs)
        return size

    return submit.submit_job(LAB_KIND, request, write_input, owner, settings)


def _write_images(folder: Path, labelled: LabelledSet) -> list[str]:
    """Each image under a name of the lab's own (its place in the set and its suffix: the upload's
    names are the user's, folders and all), which are returned in order."""
    folder.mkdir()
    names = []
    for index, (name, data) in enumerate(zip(labelled.inputs, labelled.images or [], strict=True)):
        stored = f"{index:04d}{Path(name).suffix.lower()[:8]}"
        (folder / stored).write_bytes(data)
        names.append(stored)
    return names


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
    if row.get("accuracy") is not None:
        lines.append(
            _(
                "- Accuracy on your labelled set: {value:.1%} (95% interval {low:.1%} to {high:.1%}); macro-F1 {f1:.3f}"
            ).format(
                value=row["accuracy"], low=row["accuracy_low"], high=row["accuracy_high"], f1=row["macro_f1"]
            )  # fmt: skip
        )
    if row.get("chrf") is not None:
        lines.append(
            _("- chrF against your reference translations: {value:.1f} (95% interval {low:.1f} to {high:.1f})").format(
                value=row["chrf"], low=row["chrf_low"], high=row["chrf_high"]
            )
        )
    if row["variant"] in _SETTING_OF:
        lines.append(_("- Run it in the app with: `{setting}`").format(setting=_SETTING_OF[row["variant"]]))
    if engine_record.PATHS[row["variant"]].engine == engine_choice.LLAMA_CPP:
        lines.append(
            _("- The GGUF file holds no vocabulary: run it with the tokenizer files in the zip's tokenizer folder.")
        )
    if row.get("download"):
        lines.append(_("- Download: {note}").format(note=row["download"]))
    lines.append(_("- In the app: the demos' Compare view lists it beside its model, as a compressed variant."))
    return "\n".join(lines) + "\n"


def _variant_members(folder: Path, path: engine_record.CandidatePath) -> dict[str, Path]:
    """The files of ``path``'s copy of the model in ``folder`` by their name in the zip, with the
    model's own config and tokenizer under ``tokenizer/``; empty for torch's variants (made at load
    time) and for a copy that is not there."""
    if path.engine == engine_choice.TORCH:
        return {}
    copies = [copy for copy in runtimes.copy_folders(folder, path.engine, "int8" if path.int8 else "") if copy.is_dir()]
    if not copies:
        return {}
    if path.engine == engine_choice.LLAMA_CPP:
        gguf = copies[-1] / runtimes.gguf_name(path.gguf_type)
        members = {gguf.name: gguf} if gguf.is_file() else {}
    else:
        members = {file.name: file for file in copies[-1].iterdir() if file.is_file()}
    if members:
        members.update({f"tokenizer/{name}": folder / name for name in _TOKENIZER_FILES if (folder / name).is_file()})
    return members


def zip_variant(folder: Path, variant: str, target: Path, settings: Settings) -> tuple[Path | None, str]:
    """The variant's files as ``target/<variant>.zip`` (stored, not deflated: quantised weights do
    not shrink) and a note for its card: why there is no zip (made at load time, over the
    ``lab_download_mb`` setting, or more than the disk has free), or ""."""
    path = engine_record.PATHS[variant]
    if path.engine == engine_choice.TORCH:
        return None, _("made at load time from the model's own weights; nothing to download but the model")
    members = _variant_members(folder, path)
    if not members:
        return None, _("its engine's copy of the model is not on the server")
    size_mb = sum(file.stat().st_size for file in members.values()) / 2**20
    if size_mb > settings.lab_download_mb:
        return None, _(
            "{size:,.0f} MB is more than this server packs for download ({limit:,} MB, setting LSM_LAB_DOWNLOAD_MB)"
        ).format(size=size_mb, limit=settings.lab_download_mb)
    target.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(target).free < size_mb * 2**20 * 1.1:
        return None, _("the server has not {size:,.0f} MB of disk free to pack it").format(size=size_mb)
    archive = target / f"{variant}.zip"
    partial = target / f".{variant}.zip.partial"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as packed:
        for name, file in members.items():
            packed.write(file, name)
    partial.replace(archive)
    return archive, _("a zip of {size:,.1f} MB").format(size=size_mb)


def run_lab_job(request: LabRequest, job: Job, reporter: Reporter, settings: Settings) -> JobResult:
    """Measure every variant (the worker calls this through ``LAB_HANDLER``).

    Raises:
        JobCancelled: a stop was asked for while a variant ran.
        ShowcaseError: the model does not run in torch float32 here.
    """
    run_dir = Path(job.run_dir)
    folder = plan_load(request.task, request.model_ref, settings).folder

    def before_each(done: int, total: int, path: engine_record.CandidatePath) -> None:
        reporter.log(_("Measuring {variant}").format(variant=_(path.label)))
        reporter.progress(done, total, 0.0, force=True)

    labelled = read_labelled(run_dir)
    outcomes, reference, reference_seconds = path_check.measure_against_float32(
        request.task,
        request.model_ref,
        path_check.applicable_paths(request.task, engine_record.VARIANT_PATHS),
        settings,
        before_each,
        should_stop=reporter.should_stop,
        labelled=_child_inputs(request.task, run_dir, labelled),
    )
    rows = [_row(request.task, outcome, reference, reference_seconds) for outcome in outcomes]
    rows += _not_installed_rows(request.task)
    machine = engine_record.machine()
    (run_dir / CARDS_FOLDER).mkdir(exist_ok=True)
    for row in rows:
        if row.get("p50_ms"):
            if folder is not None:
                row["download"] = zip_variant(folder, row["variant"], run_dir / VARIANTS_FOLDER, settings)[1]
            (run_dir / CARDS_FOLDER / f"{row['variant']}.md").write_text(
                card_text(request, row, machine), encoding="utf-8"
            )
    result = {"task": request.task, "model": request.model_ref, "machine": machine, "rows": rows}
    if labelled is not None:
        answers = {item.path.name: item.measured.get("labelled_outputs") for item in outcomes if item.measured}
        result["labelled"] = {"truth": labelled.truth, "outputs": answers}
    (run_dir / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")
    (run_dir / RESULT_CSV).write_bytes(uploads.to_safe_csv(pd.DataFrame(rows)))
    reporter.progress(len(outcomes), len(outcomes), 0.0, force=True)
    return {"variants": len(rows), "passed": sum(bool(row["passed"]) for row in rows)}, {
        "result": str(run_dir / RESULT_FILE)
    }


def _not_installed_rows(task: str) -> list[dict[str, Any]]:
    """A row for each variant whose engine is not installed here, saying so."""
    return [
        {"variant": path.name, "label": _(path.label), "passed": False,
         "agreement": _(_NOT_INSTALLED).format(package=engine_choice.PACKAGES[path.engine])}
        for path in engine_record.VARIANT_PATHS.get(task, ())
        if path.engine != engine_choice.TORCH and not engine_choice.available(path.engine)
    ]  # fmt: skip


def _child_inputs(task: str, run_dir: Path, labelled: LabelledSet | None) -> list[str] | None:
    """What each variant's process answers: the texts, or the stored images' paths."""
    if labelled is None:
        return None
    if task == catalogue.IMAGE_CLASSIFICATION:
        return [str(run_dir / LABELLED_IMAGES / name) for name in labelled.inputs]
    return labelled.inputs


def read_labelled(run_dir: Path) -> LabelledSet | None:
    """The labelled set a run was submitted with; None without one."""
    try:
        rows = json.loads((run_dir / LABELLED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return LabelledSet([str(text) for text in rows["inputs"]], [str(text) for text in rows["truth"]])


def with_scores(rows: Sequence[dict[str, Any]], scores: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """The table's rows with each variant's labelled-set scores (``arena.compare.score_outputs``) added."""
    return [{**row, **scores.get(str(row["variant"]), {})} for row in rows]


def variant_choices(
    task: str, owner: str, settings: Settings | None = None, *, leaving_out: Collection[str] = ()
) -> dict[str, str]:
    """Every variant the owner's finished lab runs of ``task`` measured, as a model reference
    (``engine_record.variant_ref``) with its label for a Compare picker; the newest run's first.
    Float32 is left out: it is the model itself, which the picker already offers.

    Args:
        leaving_out: model references whose variants are not offered: the catalogue models the
            picker leaves out (a translator of another direction), so neither they nor their
            variants are offered.
    """
    choices: dict[str, str] = {}
    for job in list_lab_jobs(owner, settings):
        lab = read_lab(job) if job.status == "succeeded" else None
        if lab is None or lab.get("task") != task:
            continue
        if lab["model"] in leaving_out:
            continue
        for row in lab["rows"]:
            if row["variant"] == engine_record.TORCH_FLOAT32.name or not row.get("p50_ms"):
                continue
            verdict = _("agrees with float32") if row["passed"] else _("differs from float32")
            choices.setdefault(
                engine_record.variant_ref(row["variant"], lab["model"]),
                _("{model} · {variant} · compressed, {verdict}").format(
                    model=display_name(lab["model"]), variant=row["label"], verdict=verdict
                ),
            )
    return choices


def lab_figure(lab: dict[str, Any], rows: Sequence[dict[str, Any]]) -> go.Figure:
    """The lab's one chart: each measured variant at its size on disk (x) and speed against float32
    (y), its marker's area its load peak, green where it agrees with float32 and red where not; the
    hover names p50/p95 (or tokens/s) and the labelled-set score."""
    measured = [row for row in rows if row.get("p50_ms")]
    peaks = [float(row.get("load_peak_mb") or 0.0) for row in measured]
    largest = max(peaks, default=0.0) or 1.0

    def hover(row: dict[str, Any]) -> str:
        speed = (
            _("{rate} tokens/s").format(rate=row["tokens_per_s"])
            if row.get("tokens_per_s")
            else _("p50 {p50} ms, p95 {p95} ms").format(p50=row["p50_ms"], p95=row["p95_ms"])
        )
        parts = [str(row["label"]), speed, _("load peak {peak:,.1f} MB").format(peak=row.get("load_peak_mb") or 0.0),
                 str(row["agreement"])]  # fmt: skip
        if row.get("accuracy") is not None:
            parts.append(_("accuracy {value:.1%}").format(value=row["accuracy"]))
        if row.get("chrf") is not None:
            parts.append(_("chrF {value:.1f}").format(value=row["chrf"]))
        return "<br>".join(plotly_text(part) for part in parts)

    figure = go.Figure(
        go.Scatter(
            x=[row["weights_mb"] for row in measured],
            y=[row["speedup"] for row in measured],
            mode="markers+text",
            text=[plotly_text(row["label"]) for row in measured],
            textposition="top center",
            marker={
                "size": [12 + 24 * (peak / largest) ** 0.5 for peak in peaks],
                "color": ["#2e7d32" if row["passed"] else "#c62828" for row in measured],
                "line": {"width": 1, "color": "#333"},
            },  # fmt: skip
            hovertext=[hover(row) for row in measured],
            hoverinfo="text",
            cliponaxis=False,
        )
    )
    sizes = [float(row["weights_mb"]) for row in measured]
    if sizes:
        # Room either side, so the names over the outermost markers stay on a phone's narrow chart.
        pad = 0.2 * (max(sizes) - min(sizes)) or 0.5 * max(sizes) or 1.0
        figure.update_xaxes(range=[max(0.0, min(sizes) - pad), max(sizes) + pad])
    figure.update_layout(
        title=plotly_text(
            _("{model} on {cpu}").format(model=display_name(lab["model"]), cpu=lab["machine"].get("cpu", ""))
        ),
        xaxis_title=_("Size on disk or in memory (MB)"),
        yaxis_title=_("Speed"),  # as a multiple of float32 (ticks "×2"): a phone's short plot cut a longer title
        yaxis_tickprefix="×",
        yaxis_type="log",  # variants differ by orders of magnitude (ONNX Runtime against a contended torch)
        height=440,
    )
    return figure


def table_cells(rows: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The lab's table as plain text cells (a header and a row per variant), for the briefing."""
    scored = any(row.get("accuracy") is not None for row in rows)
    translated = any(row.get("chrf") is not None for row in rows)
    header = [_("Variant"), _("Agrees"), _("Agreement"), _("Size (MB)"), _("Load peak (MB)"), _("p50 (ms)"),
              _("p95 (ms)"), _("Tokens/s"), _("Speed (x float32)")]  # fmt: skip
    header += [_("Accuracy"), _("Macro-F1")] if scored else []
    header += [_("chrF")] if translated else []

    def number(value: Any, pattern: str = "{:,.1f}") -> str:
        return pattern.format(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""

    body = []
    for row in rows:
        cells = [str(row["label"]), _("yes") if row["passed"] else _("no"), str(row["agreement"]),
                 number(row.get("weights_mb")), number(row.get("load_peak_mb")), number(row.get("p50_ms"), "{:,.2f}"),
                 number(row.get("p95_ms"), "{:,.2f}"), number(row.get("tokens_per_s")),
                 number(row.get("speedup"), "{:,.2f}")]  # fmt: skip
        cells += [number(row.get("accuracy"), "{:.1%}"), number(row.get("macro_f1"), "{:.3f}")] if scored else []
        cells += [number(row.get("chrf"))] if translated else []
        body.append(tuple(cells))
    return tuple(header), tuple(body)


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


LAB_HANDLER = model_request_handler(
    LabRequest,
    run_lab_job,
    "The compression lab",
    "measurements",
    "Unload other models first, or measure a smaller model",
    "Measuring",
    _remove_results,
)

LAB_KIND = model_request_kind(
    LAB, N_("compression lab run"), LAB_HANDLER, LabRequest, _check, (INPUT_FILE, LABELLED_FILE, LABELLED_IMAGES)
)
