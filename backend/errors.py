"""Domain errors with messages a user can act on; pages show them with ``st.error``."""

from __future__ import annotations


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


class DiskFullError(ShowcaseError):
    """The disk (or the quota) of the state folder is full, so nothing can be saved or started."""


class UntrainedWeightsError(ShowcaseError):
    """A model lacks trained weights the task relies on (a classifier head, a translation
    model's layers): loading it would initialise them at random, so its answers would be made up."""
