"""Fetching models from the hub into the models folder, with progress, cancellation and no half folders.

A model is downloaded file by file into a hidden sibling folder (``.name.partial-xxxx``) and renamed
into place only when every file arrived, so an interrupted or cancelled download never leaves a
folder that looks complete. Two sessions asking for the same model share one download: the first
starts it in a background thread, every caller watches it and gets the same result. The command
line (``python -m backend.models download``) and the Models page use the same path.
"""

from __future__ import annotations

import fnmatch
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm.std import tqdm as _plain_tqdm

from backend.config import Settings, get_settings
from backend.errors import DownloadCancelledError, ModelUnavailableError, ShowcaseError
from backend.i18n import _
from backend.models.fetch import hub
from backend.models.resolve import catalogue, endpoints
from backend.models.resolve.plan import LoadPlan, mirror_folder

# Weights as safetensors only where a repo has them; tokenizer, config and processor files always.
_WANTED_FILES = [
    "*.json",
    "*.txt",
    "*.model",
    "*.spm",
    "*.safetensors",
    "*.tiktoken",
    "*.py.txt",
    "1_Pooling/*",
    "sentence_*",
]
# Older vetted repos publish pickle weights only; the loader accepts them for catalogue ids alone.
_PICKLE_FALLBACK = "pytorch_model.bin"
_PARTIAL_MARK = ".partial-"
# Progress is reported at most this often (a callback may redraw a page).
_REPORT_EVERY_S = 0.25
# The file listing has no timeout by default; a hub that stalls after the probe must not hang a page.
_LISTING_TIMEOUT_S = 10.0

ProgressCallback = Callable[["DownloadProgress"], None]


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report: bytes done of total, speed, time left, the file in flight."""

    ref: str
    state: str  # "listing", "downloading", "done", "failed", "cancelled"
    done_bytes: int = 0
    total_bytes: int = 0
    bytes_per_second: float = 0.0
    current_file: str = ""

    @property
    def fraction(self) -> float:
        """Share done, 0..1 (0 while the size is unknown)."""
        return min(self.done_bytes / self.total_bytes, 1.0) if self.total_bytes else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the current speed; None while unknown."""
        if not self.total_bytes or self.bytes_per_second <= 0:
            return None
        return max(self.total_bytes - self.done_bytes, 0) / self.bytes_per_second

    def label(self) -> str:
        """``12.0 / 250.0 MB · 4.1 MB/s · about 58 s left`` for a progress bar."""
        if self.state == "listing":
            return f"Asking the hub for the files of {self.ref}…"
        text = f"{self.done_bytes / 2**20:,.1f} / {self.total_bytes / 2**20:,.1f} MB"
        if self.bytes_per_second > 0:
            text += f" · {self.bytes_per_second / 2**20:,.1f} MB/s"
        eta = self.eta_seconds
        if eta is not None and self.state == "downloading":
            text += f" · about {eta:,.0f} s left" if eta < 120 else f" · about {eta / 60:,.0f} min left"
        return text


@dataclass(frozen=True)
class DownloadResult:
    """Outcome for one model."""

    hub_id: str
    folder: str
    ok: bool
    message: str
    size_bytes: int = 0


def specs_to_download(tasks: list[str], include_alternatives: bool) -> list[catalogue.ModelSpec]:
    """The catalogue entries the command fetches for ``tasks`` (all tasks when empty)."""
    unknown = [task for task in tasks if task not in catalogue.TASKS]
    if unknown:
        raise ValueError(f"unknown task(s): {', '.join(unknown)}; choose from {', '.join(catalogue.TASKS)}")
    chosen = tasks or list(catalogue.TASKS)
    specs = [s for s in catalogue.CATALOGUE if s.task in chosen and (s.default or include_alternatives)]
    unique: dict[str, catalogue.ModelSpec] = {}
    for spec in specs:
        unique.setdefault(spec.hub_id, spec)
    return list(unique.values())


def is_downloaded(hub_id: str, settings: Settings | None = None) -> bool:
    """True when the models folder holds a complete copy of ``hub_id``."""
    folder = mirror_folder(hub_id, (settings or get_settings()))
    return (folder / "config.json").is_file() or (folder / "modules.json").is_file()


def folder_size(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 when absent)."""
    if not folder.is_dir():
        return 0
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class _Download:
    """One download in flight, shared by every caller asking for the same reference."""

    def __init__(self, ref: str, settings: Settings) -> None:
        self.ref = ref
        self.settings = settings
        self.progress = DownloadProgress(ref, "listing")
        self.result: DownloadResult | None = None
        self.error: ShowcaseError | None = None
        self.finished = threading.Event()
        self.cancel = threading.Event()
        self.watchers = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def add_bytes(self, count: int, file: str) -> None:
        if self.cancel.is_set():
            raise DownloadCancelledError(_("The download of {ref} was cancelled.").format(ref=self.ref))
        with self._lock:
            done = self.progress.done_bytes + count
            speed = done / max(time.monotonic() - self._started, 1e-6)
            self.progress = replace(self.progress, done_bytes=done, bytes_per_second=speed, current_file=file)

    def set_state(self, state: str, **changes: object) -> None:
        with self._lock:
            self.progress = replace(self.progress, state=state, **changes)


def _bar_class(job: _Download, filename: str) -> type[_plain_tqdm]:
    """A silent tqdm that feeds ``job``'s progress (huggingface_hub's documented ``tqdm_class``)."""

    class _Bar(_plain_tqdm):
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            job.add_bytes(int(n or 0), filename)
            return None

        # With these, huggingface_hub's Xet downloads report through this one bar (file bytes via
        # ``update``) instead of a second bar for network bytes, which would count the file twice.
        def update_transfer(self, n: float | None = 1) -> None:
            return None

        def set_transfer_postfix_str(self, text: str = "", refresh: bool = True) -> None:
            return None

    return _Bar


def _wanted(files: dict[str, int]) -> dict[str, int]:
    chosen = {name: size for name, size in files.items() if any(fnmatch.fnmatch(name, p) for p in _WANTED_FILES)}
    if not any(name.endswith(".safetensors") for name in chosen) and _PICKLE_FALLBACK in files:
        chosen[_PICKLE_FALLBACK] = files[_PICKLE_FALLBACK]
    return chosen


def _list_files(job: _Download) -> tuple[str, dict[str, int]]:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=job.settings.hub_endpoint)
    info = api.model_info(job.ref, files_metadata=True, timeout=_LISTING_TIMEOUT_S)
    files = {sibling.rfilename: int(sibling.size or 0) for sibling in info.siblings or []}
    return info.sha or "main", _wanted(files)


def _translate(error: Exception, job: _Download) -> ShowcaseError:
    if isinstance(error, ShowcaseError):
        return error
    text = f"{type(error).__name__}: {error}"
    lowered = text.lower()
    if "repositorynotfound" in lowered.replace(" ", "") or "404" in lowered:
        return ModelUnavailableError(
            _("{ref} was not found on the Hugging Face Hub.").format(ref=job.ref),
            _("Check the name, or pick a model from the list."),
            text,
        )
    if any(word in lowered for word in ("connect", "timed out", "timeout", "remoteprotocol", "network")):
        hub.mark_unreachable(text, job.settings)
    return ModelUnavailableError(
        _("The download of {ref} failed; nothing was kept.").format(ref=job.ref),
        _("Try again in a moment, or pick a model marked as downloaded on the Models page."),
        text,
    )


def _fetch(job: _Download) -> DownloadResult:
    """List the files, fetch each into a hidden partial folder, then rename it into place."""
    from huggingface_hub import hf_hub_download

    settings = job.settings
    target = mirror_folder(job.ref, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}{_PARTIAL_MARK}*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed process; this process owns the ref now
    partial = target.parent / f".{target.name}{_PARTIAL_MARK}{uuid.uuid4().hex[:8]}"
    try:
        commit, files = _list_files(job)
        job.set_state("downloading", total_bytes=sum(files.values()))
        for name in sorted(files):
            hf_hub_download(
                job.ref,
                name,
                revision=commit,
                local_dir=partial,
                endpoint=settings.hub_endpoint,
                tqdm_class=_bar_class(job, name),
                etag_timeout=hub.PROBE_TIMEOUT_S,
            )
        if job.cancel.is_set():
            raise DownloadCancelledError(_("The download of {ref} was cancelled.").format(ref=job.ref))
        shutil.rmtree(partial / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
        _move_into_place(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    size = folder_size(target)
    hub.forget_failure_of(job.ref)
    return DownloadResult(job.ref, str(target), True, "downloaded", size)


def _move_into_place(partial: Path, target: Path) -> None:
    """Rename the finished folder to ``target``; an older copy there is set aside, then removed."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        target.rename(old)
    partial.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _run(job: _Download) -> None:
    try:
        job.result = _fetch(job)
        job.set_state("done")
    except Exception as error:  # noqa: BLE001 - every failure reaches each caller as a typed error
        job.error = _translate(error, job)
        job.set_state("cancelled" if isinstance(job.error, DownloadCancelledError) else "failed")
    finally:
        with _active_lock:
            if _active.get(job.ref) is job:
                del _active[job.ref]
        job.finished.set()


_active: dict[str, _Download] = {}
_active_lock = threading.Lock()
_started_count = 0


def downloads_started() -> int:
    """How many downloads this process has started (tests check that callers share one)."""
    return _started_count


def active_download(ref: str) -> DownloadProgress | None:
    """The progress of the download of ``ref`` in flight, if any (pages show it to other sessions)."""
    with _active_lock:
        job = _active.get(ref)
    return job.progress if job else None


def _join(ref: str, settings: Settings) -> _Download:
    global _started_count
    with _active_lock:
        job = _active.get(ref)
        if job is None or job.cancel.is_set():  # a cancelled one still winding down is not joined
            job = _Download(ref, settings)
            _active[ref] = job
            _started_count += 1
            threading.Thread(target=_run, args=(job,), name=f"download {ref}", daemon=True).start()
        job.watchers += 1
        return job


def download_model(
    ref: str | catalogue.ModelSpec,
    progress_callback: ProgressCallback | None = None,
    cancel_event: threading.Event | None = None,
    settings: Settings | None = None,
) -> DownloadResult:
    """Download a hub model into its folder in the models folder, or join the download in flight.

    Args:
        ref: a hub id (``org/name``) or a catalogue entry.
        progress_callback: called with a :class:`DownloadProgress` a few times a second.
        cancel_event: set it to stop watching; the download stops when no caller watches it.
        settings: settings to use (default: the process settings).

    Returns:
        Where the model now lies and its size on disk.

    Raises:
        HubUnreachableError: offline mode is on or the hub does not answer (at once, no retries).
        DownloadCancelledError: ``cancel_event`` was set before the download finished.
        ModelUnavailableError: the hub does not have the model, or the transfer failed.
    """
    settings = settings or get_settings()
    hub_id = ref.hub_id if isinstance(ref, catalogue.ModelSpec) else ref.strip()
    hub.require_hub(hub_id, settings)
    job = _join(hub_id, settings)
    cancelled = False
    try:
        while not job.finished.wait(_REPORT_EVERY_S):
            if progress_callback is not None:
                progress_callback(job.progress)
            if cancel_event is not None and cancel_event.is_set():
                cancelled = True
                break
    finally:
        with _active_lock:
            job.watchers -= 1
            if job.watchers <= 0 and not job.finished.is_set():
                job.cancel.set()  # nobody watches any more
    if cancelled:
        raise DownloadCancelledError(
            _("The download of {hub_id} was cancelled; nothing was kept.").format(hub_id=hub_id)
        )
    if progress_callback is not None:
        progress_callback(job.progress)
    if job.error is not None:
        raise job.error
    assert job.result is not None
    return job.result


def download_quietly(spec: catalogue.ModelSpec, settings: Settings | None = None) -> DownloadResult:
    """:func:`download_model` for the command line: a model already in the models folder is kept
    as it is; failures come back as a result, not raised."""
    settings = settings or get_settings()
    folder = mirror_folder(spec.hub_id, settings)
    if is_downloaded(spec.hub_id, settings):
        return DownloadResult(spec.hub_id, str(folder), True, "already downloaded", folder_size(folder))
    try:
        return download_model(spec, settings=settings)
    except ShowcaseError as error:
        return DownloadResult(spec.hub_id, str(folder), False, f"{error.user_text()} {error.detail}".strip())


def plan_needs_download(plan: LoadPlan, settings: Settings | None = None) -> bool:
    """True when ``plan`` names a hub id with no local copy (models folder or huggingface_hub's cache)
    and the hub can serve it now; ``backend.models.acquire`` then downloads it with progress before
    loading. False otherwise: local models load as they are, and a load that needs an unreachable
    hub fails fast with the typed error. Nothing is resolved again."""
    if plan.is_local or endpoints.is_endpoint_ref(plan.ref):
        return False
    return _hub_would_serve(plan.ref.strip(), settings or get_settings())


def _hub_would_serve(hub_id: str, settings: Settings) -> bool:
    return not hub.in_hub_cache(hub_id) and hub.hub_state(settings).usable
