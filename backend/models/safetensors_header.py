"""The one reader of a safetensors file's header: each tensor's name, dtype, shape and byte span.

The loaders that read tensors themselves (``load.dtype_convert``, ``load.int8_stream``) and the
resolver's memory estimate (``resolve.weight_files``) all need the header alone, without
safetensors' own mmap of the whole file. The header is untrusted input (a model folder can come
from anywhere), so its length, types and spans are checked here, once, for all of them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

HEADER_LIMIT = 100 * 2**20  # the safetensors format's own cap on the JSON header
DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


class UnreadableHeader(ValueError):
    """The file's header is missing, too long, not JSON or not the safetensors layout."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it; ``begin``/``end`` are offsets in the whole file."""

    name: str
    dtype_name: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def dtype(self) -> torch.dtype | None:
        """The torch dtype, or None for one this project does not read (e.g. F8 variants)."""
        return DTYPES.get(self.dtype_name)

    @property
    def size(self) -> int:
        return self.end - self.begin

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    def size_matches(self) -> bool:
        """Whether the span holds exactly ``count`` elements of the dtype."""
        return self.dtype is not None and self.size == self.count * self.dtype.itemsize


def read_header(file: Path) -> list[TensorEntry]:
    """The tensors of the safetensors ``file``, in the order their bytes lie in the file.

    Raises:
        UnreadableHeader: the header cannot be read as a safetensors header.
        OSError: the file cannot be read.
    """
    with file.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        if not 0 < length <= HEADER_LIMIT:
            raise UnreadableHeader(f"{file.name}: unreadable safetensors header")
        raw = handle.read(length)
    try:
        header = json.loads(raw)
        base = 8 + length
        entries = [
            TensorEntry(
                name=name,
                dtype_name=str(entry["dtype"]),
                shape=tuple(int(n) for n in entry["shape"]),
                begin=base + int(entry["data_offsets"][0]),
                end=base + int(entry["data_offsets"][1]),
            )
            for name, entry in header.items()
            if name != "__metadata__"
        ]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise UnreadableHeader(f"{file.name}: unreadable safetensors header") from error
    return sorted(entries, key=lambda entry: entry.begin)
