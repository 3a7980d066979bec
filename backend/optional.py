"""Packages only some deployments install, and the requirement file that installs each.

``requirements.txt`` holds what the default app imports, which is what Streamlit Community Cloud
installs. The CPU engines, the PostgreSQL job store, the Redis queue and GGUF unpacking need more;
a setting or command that needs a package this installation lacks says which file installs it.
One table here, so the messages, the requirement files and their test agree.
"""

from __future__ import annotations

import functools
import importlib
import logging
from importlib import metadata
from types import ModuleType

from backend.errors import MissingPackageError
from backend.i18n import _

# Distribution (what pip installs) -> the requirement file that installs it.
REQUIREMENT_FILES = {
    "onnxruntime": "requirements-engines.txt",
    "onnx": "requirements-engines.txt",
    "ctranslate2": "requirements-engines.txt",
    "psycopg": "requirements-distributed.txt",
    "redis": "requirements-distributed.txt",
    "gguf": "requirements-gguf.txt",
    "llama-cpp-python": "requirements-llama-cpp.txt",
}

# Files installed by a script of their own rather than by pip directly (llama.cpp compiles itself,
# with build flags the script sets).
_INSTALLED_BY = {"requirements-llama-cpp.txt": "bash scripts/install-llama-cpp.sh"}

_log = logging.getLogger(__name__)


def is_installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed (its metadata is read; nothing is imported)."""
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing(distribution: str, feature: str) -> MissingPackageError:
    """The error for ``feature`` (a setting or command, in words) needing absent ``distribution``."""
    file = REQUIREMENT_FILES[distribution]
    command = f"`{_INSTALLED_BY[file]}` ({file})" if file in _INSTALLED_BY else f"`pip install -r {file}`"
    return MissingPackageError(
        _("{feature} needs the {distribution} package, which is not installed.").format(
            feature=feature, distribution=distribution
        ),
        _("Install it with {command} and restart the app.").format(command=command),
    )


def require(module: str, distribution: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise the error that names the file installing it.

    Raises:
        MissingPackageError: ``module`` is not installed. An installed package that fails to
            import for another reason raises its own error, which would otherwise be misread.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] != module.split(".")[0]:
            raise
        raise missing(distribution, feature) from error


@functools.cache
def warn_missing(distribution: str, feature: str) -> str:
    """Log once that ``feature`` falls back because ``distribution`` is absent; the message."""
    text = missing(distribution, feature).user_text()
    _log.warning("%s Until then the default is used.", text)
    return text
