"""The one reader of safetensors files: the header (each tensor's name, dtype, shape and byte
span) and the tensors' bytes, read with plain file reads.

The loaders that read tensors themselves (``load.dtype_convert``, ``load.int8_stream``,
``load.quantize``, ``load.embedding_head``), the GGUF exporter (``engines.llama_cpp_engine``) and
the resolver's memory estimate (``resolve.weight_files``) all read through here, never through
safetensors' own mmap of the whole file: the pages an mmap touches count in the process's resident
memory for as long as it stays open. The header is untrusted input (a model folder can come from
anywhere), so its length, types and spans are checked here, once, for all of them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
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


class UnreadableTensor(ValueError):
    """A tensor's bytes cannot be read as its header says: a dtype this project does not read, a
    span that does not hold its shape, or a file that ends first."""


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


def read_span(handle, offset: int, target: torch.Tensor) -> None:
    """Fill the contiguous CPU tensor ``target`` with the bytes of the open file ``handle`` at
    ``offset`` (positioned reads: the handle's own position is left alone).

    Raises:
        UnreadableTensor: the file ends first.
    """
    view = memoryview(target.view(-1).view(torch.uint8).numpy())
    done = 0
    while done < len(view):
        got = os.preadv(handle.fileno(), [view[done:]], offset + done)
        if not got:
            raise UnreadableTensor("the weights file is shorter than its header says")
        done += got


def read_tensor(handle, entry: TensorEntry, rows: tuple[int, int] | None = None) -> torch.Tensor:
    """The tensor ``entry`` of the open file ``handle`` at its stored dtype, or only the ``rows``
    ``[start, stop)`` of its first dimension (the GGUF exporter converts a big tensor a block of rows
    at a time).

    Raises:
        UnreadableTensor: see the class.
    """
    dtype = entry.dtype
    if dtype is None:
        raise UnreadableTensor(f"tensor {entry.name} has dtype {entry.dtype_name}")
    if not entry.size_matches():
        raise UnreadableTensor(f"tensor {entry.name} does not hold its shape")
    shape, offset = entry.shape, entry.begin
    if rows is not None:
        start, stop = rows
        if not shape or not 0 <= start <= stop <= shape[0]:
            raise UnreadableTensor(f"tensor {entry.name} has no rows {start}-{stop}")
        row_bytes = entry.size // shape[0] if shape[0] else 0
        shape, offset = (stop - start, *shape[1:]), offset + start * row_bytes
    tensor = torch.empty(shape, dtype=dtype)
    if tensor.numel():
        read_span(handle, offset, tensor)
    return tensor


def read_tensors(file: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Each tensor of the safetensors ``file``, by name, in file order, each in memory of its own.

    Raises:
        UnreadableHeader, UnreadableTensor: see the classes.
        OSError: the file cannot be read.
    """
    entries = read_header(file)
    with file.open("rb", buffering=0) as handle:
        for entry in entries:
            yield entry.name, read_tensor(handle, entry)
