"""What a local model folder's weight files say before anything is loaded: whether they are safe
to load (safetensors, not pickles) and how much memory they will take in a given dtype.

Only file names and safetensors headers are read, never the tensors themselves.
"""

from __future__ import annotations

from pathlib import Path

from backend.errors import ModelLoadError, UnsafeModelError
from backend.i18n import _
from backend.models import safetensors_file
from backend.models.resolve.device import torch_dtype

_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}
_PICKLE_SUFFIXES = ("*.bin", "*.pt", "*.pkl")


def require_safetensors(folder: Path) -> list[Path]:
    """The folder's safetensors files.

    Raises:
        UnsafeModelError: it holds only pickle weights, which can run code when loaded.
        ModelLoadError: it holds no weights at all.
    """
    files = sorted(folder.rglob("*.safetensors"))
    if files:
        return files
    if any(any(folder.rglob(pattern)) for pattern in _PICKLE_SUFFIXES):
        raise UnsafeModelError(
            _("{name} holds only pickle weights, which can run code when loaded.").format(name=folder.name),
            _("Convert it to safetensors (model.save_pretrained(..., safe_serialization=True))."),
        )
    raise ModelLoadError(_("{name} has no weights file.").format(name=folder.name), _("The folder is incomplete."))


def loaded_bytes(files: list[Path], dtype: str) -> int:
    """Bytes the tensors in the safetensors ``files`` take once loaded in ``dtype``."""
    return sum(_loaded_size(file, dtype) for file in files)


def _loaded_size(file: Path, dtype: str) -> int:
    """Bytes the tensors in ``file`` take once loaded in ``dtype``: floating-point tensors are
    converted (a float32 file loads at half the size in bfloat16), the others keep their size.
    The file's size when its header cannot be read."""
    try:
        entries = safetensors_file.read_header(file)
    except (OSError, safetensors_file.UnreadableHeader):
        return file.stat().st_size
    target = torch_dtype(dtype).itemsize
    return sum(entry.count * target if entry.dtype_name in _FLOAT_DTYPES else entry.size for entry in entries)
