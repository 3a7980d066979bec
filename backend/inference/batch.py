"""Batch mode as a background job: a demo's table (or images) run by the worker, never by the page.

A table of thousands of texts takes minutes on a CPU. The page checks the input and options,
submits, and polls; the worker (the same queue, job store and process as fine-tuning, through
``BATCH_HANDLER``, kind ``batch``) loads the model and runs the demo's own batch function (``sentiment.classify_table``,
``translation.translate_table``, ``text_generation.generate_table``,
``image_classification.classify_files``) with progress and cancel.
A browser refresh, a second tab or an app restart finds the run again; its results stay in the
run folder as a table and a formula-escaped CSV until the job is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import pandas as pd

from backend import uploads
from backend.config import Settings
from backend.errors import InputTooLargeError, InvalidInputError
from backend.i18n import N_, _
from backend.inference import image_classification, sentiment, tables, text_generation, translation
from backend.inference.footer import RunFooter
from backend.jobs import submit
from backend.jobs.kinds import JobResult, ModelRequest, model_request_handler, model_request_kind
from backend.jobs.progress import JobCancelled, Reporter
from backend.jobs.store import Job, JobStore
from backend.model_gate import check_job_model
from backend.models.loader import load_model
from backend.models.resolve import catalogue

BATCH = "batch"  # the kind of every batch job
TABLE_TASKS = (catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.TEXT_GENERATION)
INPUT_FILE = "input.json"
# Uploaded images are stored by position, never under their own (user-chosen) names.
IMAGES_FOLDER = "images"
RESULT_FILE = "result.json"
RESULT_CSV = "result.csv"


@dataclass(frozen=True)
class BatchRequest(ModelRequest):
    """What to run over which column: the demo's task, model and options."""

    column: str = ""  # the text column (tables)
    file_name: str = ""
    target_language: str = ""  # translation
    source_language: str = ""  # translation: tags the source of many-to-many models
    num_beams: int = 1  # translation
    temperature: float = 0.7  # text generation
    top_p: float = 0.9
    max_new_tokens: int = 256

    # The job store's columns (``backend.jobs.kinds.JobParams``): a batch is named by its file
    # and runs its model as it is.
    @property
    def title(self) -> str:
        """The job's title: the uploaded file's name."""
        return self.file_name

    @property
    def generation_options(self) -> text_generation.GenerationOptions:
        """The sampling options of a text-generation batch."""
        return text_generation.GenerationOptions(self.temperature, self.top_p, self.max_new_tokens)


def _limits(task: str) -> tuple[int, int]:
    """(characters per text, rows per table) of each task's table function."""
    if task == catalogue.SENTIMENT:
        return sentiment.MAX_CHARS, tables.MAX_BATCH_ROWS
    if task == catalogue.TRANSLATION:
        return translation.MAX_CHARS, translation.MAX_TABLE_ROWS
    return text_generation.MAX_MESSAGE_CHARS, text_generation.MAX_TABLE_ROWS


def _check_task(request: BatchRequest, tasks: tuple[str, ...]) -> None:
    if request.task not in tasks:
        raise InvalidInputError(
            _("This batch input is for {value}; not {task!r}.").format(value=", ".join(tasks), task=request.task)
        )


def check_request(request: BatchRequest, frame: pd.DataFrame) -> tables.TextColumn:
    """Everything the worker would refuse, refused now: task, options, column, rows, texts.

    Raises:
        InvalidInputError: saying what to change; nothing is queued.
    """
    _check_task(request, TABLE_TASKS)
    if request.task == catalogue.TRANSLATION:
        translation.check_beams(request.num_beams)
        if not request.target_language:
            raise InvalidInputError(_("Pick the language to translate into."))
    if request.task == catalogue.TEXT_GENERATION:
        request.generation_options.checked()
    max_chars, max_rows = _limits(request.task)
    return tables.read_text_column(frame, request.column, max_chars, max_rows)


def check_images(files: list[tuple[str, bytes]]) -> int:
    """How many of the uploaded files are readable images (the others become noted rows).

    Only the files' headers are read: no image is decoded here (the Streamlit process must not
    hold a batch of decoded images), and the readable images' pixels together must be within
    ``uploads.MAX_BATCH_PIXELS``.

    Raises:
        InvalidInputError: no files, too many, one over the size limit, none readable, or more
            pixels in all than the batch budget; nothing is queued.
    """
    limit = image_classification.MAX_IMAGES
    uploads.check_count(
        len(files),
        limit,
        _("No images were uploaded."),
        _("{files} files were uploaded; the limit is {limit}.").format(files=len(files), limit=limit),
    )
    # Any file over the size limit is refused outright rather than noted: the run folder must not
    # store 100 MB non-images.
    for name, data in files:
        if data:
            uploads.check_size(name, len(data), uploads.MAX_IMAGE_BYTES)
    readable, pixels = 0, 0
    for name, data in files:
        try:
            width, height = uploads.image_size(data, name)
        except InvalidInputError:
            continue  # the worker notes why in the file's row
        readable += 1
        pixels += width * height
    if not readable:
        raise InvalidInputError(
            _("None of the uploaded files is an image this app can read."), _("Use PNG, JPEG or WebP.")
        )
    if pixels > uploads.MAX_BATCH_PIXELS:
        raise InputTooLargeError(
            _(
                "The images hold {pixels:,.0f} megapixels in all; the limit for a batch is "
                "{MAX_BATCH_PIXELS:,.0f} megapixels."
            ).format(pixels=pixels / 1e6, MAX_BATCH_PIXELS=uploads.MAX_BATCH_PIXELS / 1e6),
            _("Send fewer images at once, or smaller ones."),
        )
    return readable


def submit_batch_job(
    request: BatchRequest, frame: pd.DataFrame, owner: str = "", settings: Settings | None = None
) -> Job:
    """Check the table, store it in a new run folder and queue the batch.

    Raises:
        InvalidInputError: bad options or table (nothing is queued).
        ShowcaseError: the queue cannot be reached (nothing is left behind).
    """
    column = check_request(request, frame)

    def write_input(run_dir: Path) -> dict[str, Any]:
        # JSON, not pickle: the worker reads back only plain values.
        frame.to_json(run_dir / INPUT_FILE, orient="split", force_ascii=False, index=False)
        return {"rows": len(frame), "items": len(column.texts), "skipped": len(column.notes)}

    return submit.submit_job(BATCH_KIND, request, write_input, owner, settings)


def submit_image_batch_job(
    request: BatchRequest, files: list[tuple[str, bytes]], owner: str = "", settings: Settings | None = None
) -> Job:
    """Check the images, store them in a new run folder and queue the batch.

    Raises:
        InvalidInputError: no readable image, too many files, wrong task (nothing is queued).
        ShowcaseError: the queue cannot be reached (nothing is left behind).
    """
    _check_task(request, (catalogue.IMAGE_CLASSIFICATION,))
    readable = check_images(files)

    def write_input(run_dir: Path) -> dict[str, Any]:
        folder = run_dir / IMAGES_FOLDER
        folder.mkdir()
        for position, (_name, data) in enumerate(files):
            (folder / f"{position:03d}").write_bytes(data)
        names = [name for name, _ in files]
        (run_dir / INPUT_FILE).write_text(json.dumps({"names": names}, ensure_ascii=False), encoding="utf-8")
        return {"rows": len(files), "items": readable, "skipped": len(files) - readable}

    return submit.submit_job(BATCH_KIND, request, write_input, owner, settings)


def retry_batch_job(job_id: str, owner: str, settings: Settings | None = None) -> Job:
    """Queue a failed or cancelled batch again: same task, model, options, owner and input.

    The input (the table, or the images) is copied from the old run folder, which stays, for
    reference; the model is checked again as for a new batch.

    Raises:
        InvalidInputError: no such batch for this owner, one that did not fail or was not
            cancelled, or its input is gone (nothing is queued).
        ShowcaseError: a model that can no longer load, or the queue cannot be reached.
    """
    return submit.retry_job(BATCH_KIND, job_id, owner, settings)


class _StoredImages(Sequence[tuple[str, bytes]]):
    """A run folder's images as ``(name, bytes)``, each file read only when it is asked for.

    The worker never holds every upload's bytes at once (50 files of 20 MB would be 1 GB).
    """

    def __init__(self, run_dir: Path) -> None:
        self._folder = run_dir / IMAGES_FOLDER
        self._names = [str(name) for name in json.loads((run_dir / INPUT_FILE).read_text(encoding="utf-8"))["names"]]

    def __len__(self) -> int:
        return len(self._names)

    @overload
    def __getitem__(self, index: int) -> tuple[str, bytes]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, bytes]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, bytes] | list[tuple[str, bytes]]:
        if isinstance(index, slice):
            return [self[position] for position in range(len(self))[index]]
        position = range(len(self))[index]
        return self._names[position], (self._folder / f"{position:03d}").read_bytes()

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return (self[position] for position in range(len(self)))


def _read_images(run_dir: Path) -> Sequence[tuple[str, bytes]]:
    return _StoredImages(run_dir)


def _progress(reporter: Reporter) -> Callable[[int, int], None]:
    """The batch functions' ``(done, total)`` callback: stop if asked, else report (with an ETA)."""

    def report(done: int, total: int) -> None:
        if reporter.should_stop():
            raise JobCancelled("The batch was cancelled.")
        reporter.progress(done, total, 0.0)

    return report


def _run_batch(request: BatchRequest, run_dir: Path, progress, settings: Settings) -> tables.TableRun:
    # Loaded per job, not cached: the worker gives the memory back when the batch ends.
    loaded = load_model(request.task, request.model_ref, settings)
    if request.task == catalogue.IMAGE_CLASSIFICATION:
        return image_classification.classify_files(loaded, _read_images(run_dir), progress=progress)
    frame = pd.read_json(run_dir / INPUT_FILE, orient="split", dtype=False)
    if request.task == catalogue.SENTIMENT:
        return sentiment.classify_table(loaded, frame, request.column, progress=progress)
    if request.task == catalogue.TRANSLATION:
        return translation.translate_table(
            loaded,
            frame,
            request.column,
            request.target_language,
            request.num_beams,
            progress=progress,
            source_language=request.source_language or None,
        )
    return text_generation.generate_table(loaded, frame, request.column, request.generation_options, progress=progress)


def run_batch_job(request: BatchRequest, job: Job, reporter: Reporter, settings: Settings) -> JobResult:
    """Run a queued batch (the worker calls this through ``BATCH_HANDLER``); returns the job's
    metrics and artefacts.

    Args:
        request: the stored request.
        job: the claimed batch job.
        reporter: progress in rows or images (with an ETA) and logs; polled between two groups
            of rows, a stop cancels the run.
        settings: where the models and runs live.

    Raises:
        JobCancelled: a stop was asked for between two groups.
        ShowcaseError: the model cannot be loaded or the input is unusable (readable message).
    """
    run_dir = Path(job.run_dir)
    reporter.log(f"Running {request.task} with {request.model_ref} over {job.dataset.get('rows', 0):,} rows")
    run = _run_batch(request, run_dir, _progress(reporter), settings)
    run.table.to_json(run_dir / RESULT_FILE, orient="split", force_ascii=False, index=False)
    (run_dir / RESULT_CSV).write_bytes(uploads.to_safe_csv(run.table))
    reporter.log(f"Finished {len(run.table):,} rows ({run.skipped:,} skipped) on {run.footer.device}")
    metrics = {"rows": len(run.table), "skipped": run.skipped, "seconds": round(run.footer.latency_ms / 1000, 2)}
    artefacts = {"result_csv": str(run_dir / RESULT_CSV), "footer": run.footer.to_dict()}
    return metrics, artefacts


def _remove_results(job: Job) -> None:
    for name in (RESULT_FILE, RESULT_CSV):
        (Path(job.run_dir) / name).unlink(missing_ok=True)


BATCH_HANDLER = model_request_handler(
    BatchRequest,
    run_batch_job,
    "The batch",
    "results",
    "Upload fewer or shorter rows, or pick a smaller model",
    "Processing",
    _remove_results,
)


def _check_submission(request: BatchRequest, owner: str, settings: Settings) -> None:
    check_job_model(request.task, request.model_ref, owner, settings)


BATCH_KIND = model_request_kind(
    BATCH, N_("batch run"), BATCH_HANDLER, BatchRequest, _check_submission, (INPUT_FILE, IMAGES_FOLDER)
)


def list_batch_jobs(owner: str, task: str, settings: Settings | None = None) -> list[Job]:
    """The owner's batch jobs of one demo, newest first (reads only)."""
    return JobStore(settings=settings).list_jobs(owner=owner, task=task, kinds=(BATCH,))


def read_result(job: Job) -> tables.TableRun | None:
    """A finished batch's table, footer and skipped count; None until there is one."""
    path = Path(job.run_dir) / RESULT_FILE
    footer = job.artefacts.get("footer")
    if not path.is_file() or not isinstance(footer, dict):
        return None
    try:
        table = pd.read_json(path, orient="split", dtype=False)
        return tables.TableRun(table=table, footer=RunFooter(**footer), skipped=int(job.metrics.get("skipped", 0)))
    except (OSError, ValueError, TypeError):
        return None
