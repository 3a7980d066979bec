"""Domain errors with messages a user can act on; pages show them with ``st.error``."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from backend.i18n import _


class ShowcaseError(Exception):
    """Base class: ``message`` says what happened, ``hint`` says what to do about it in the app,
    ``detail`` is for the operator (commands, settings, paths) and shown folded away."""

    def __init__(self, message: str, hint: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def user_text(self) -> str:
        """The message and the hint as one paragraph for the UI."""
        return f"{self.message} {self.hint}".strip()


class InvalidInputError(ShowcaseError):
    """User input (text, file, parameter) failed validation."""


class InputTooLargeError(InvalidInputError):
    """An upload, image or text is over a size or pixel limit (callers may advise resizing)."""


class ModelUnavailableError(ShowcaseError):
    """A model could not be fetched: hub unreachable, offline mode, or missing local folder."""


class HubUnreachableError(ModelUnavailableError):
    """The model needs the Hugging Face Hub, which cannot be reached now or offline mode is on."""


class EndpointError(ModelUnavailableError):
    """An OpenAI-compatible inference server did not answer usefully: unreachable, refused the
    credentials, busy (429), too slow, or failed."""


class DownloadCancelledError(ModelUnavailableError):
    """A model download was cancelled before it finished; nothing was kept."""


class UnsafeModelError(ShowcaseError):
    """A model reference or file was refused (path outside the models folder, pickle weights)."""


class InsufficientMemoryError(ShowcaseError):
    """Not enough CPU or GPU memory for the model or the batch."""


class ModelLoadError(ShowcaseError):
    """A model folder exists but could not be read (corrupt or incomplete files)."""


class MissingPackageError(ShowcaseError):
    """A setting or command needs a package this installation lacks; the hint names the requirement
    file that installs it (``backend.optional``)."""


class DiskFullError(ShowcaseError):
    """The disk (or the quota) of the state folder is full, so nothing can be saved or started."""


class UntrainedWeightsError(ShowcaseError):
    """A model lacks trained weights the task relies on (a classifier head, a translation
    model's layers): loading it would initialise them at random, so its answers would be made up."""


# --- one classifier for "the disk is full", whoever says it ---------------------------------------

_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# How libraries that wrap the OS error in their own word it: safetensors' ``SafetensorError`` from
# Rust ("No space left on device (os error 28)", "StorageFull"), SQLite's SQLITE_FULL.
_DISK_FULL_TEXTS = (
    "no space left on device",
    "disk quota exceeded",
    "os error 28",
    "os error 122",
    "storagefull",
    "database or disk is full",
)
# SQLite says only "disk I/O error" when its WAL or shared-memory file cannot grow: a full disk if
# the folder it writes in has (almost) no room left (under 1 MB), a failing disk otherwise.
_SQLITE_IO_ERROR = "disk i/o error"
_NEARLY_FULL_BYTES = 2**20


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def is_disk_full(error: BaseException, folder: Path | None = None) -> bool:
    """Whether ``error``, or an error it was raised from, says the disk (or the quota) is full.

    Reads the errno of ``OSError``s and the words of any error along the ``__cause__``/``__context__``
    chain. SQLite's "disk I/O error" counts when ``folder`` (by default the state folder, where the
    job store lives) has under 1 MB free.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        text = str(current).lower()
        if any(words in text for words in _DISK_FULL_TEXTS):
            return True
        if _SQLITE_IO_ERROR in text:
            if folder is None:
                from backend.config import get_settings  # the settings import this module's neighbours

                folder = get_settings().state_dir
            if _nearly_full(folder):
                return True
        current = current.__cause__ or current.__context__
    return False


def disk_full_error(doing: str, error: BaseException | None = None) -> DiskFullError:
    """The one message for a full disk: what could not be done, and what to do about it."""
    full = DiskFullError(
        _("The disk is full, so {doing}.").format(doing=doing),
        _("Ask whoever runs this server to free space, then try again."),
        "The state folder is LSM_STATE_DIR (job store, uploads, run folders); the models folder is LSM_MODELS_DIR.",
    )
    if error is not None:
        full.__cause__ = error
    return full
