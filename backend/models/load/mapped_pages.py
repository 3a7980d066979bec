"""Where a memory-mapped tensor's bytes lie in its file, so they can be read without touching the
mapping.

``from_pretrained`` loads a checkpoint stored in the loaded dtype as views of an mmap of the
safetensors file: nothing is copied, but every page a computation reads stays in the process's
resident memory for as long as the model lives. Dynamic int8 reads each Linear weight once, to
quantise it, and never again; read through the mapping, every float32 Linear byte would stay
resident beside its int8 copy (a ConvNeXt load added 5x its int8 weights). Read from the file with
plain reads instead, the bytes go through the page cache, which is not this process's memory.

Linux only (``/proc/self/maps`` and ``/proc/self/pagemap``); anywhere else, or for a tensor that
is not a clean view of a file, ``span_of`` says None and the caller reads the tensor itself.
"""

from __future__ import annotations

import array
import bisect
import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import torch

_MAPS = Path("/proc/self/maps")
_PAGEMAP = Path("/proc/self/pagemap")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# /proc/self/pagemap bits (Documentation/admin-guide/mm/pagemap.rst).
_PRESENT = 1 << 63
_SWAPPED = 1 << 62
_FILE_PAGE = 1 << 61
_MADV_DONTNEED = 4  # Linux: the pages go; a later read maps the file's again


@dataclass(frozen=True)
class FileSpan:
    """``size`` bytes of the file at ``path``, from ``offset``."""

    path: str
    offset: int
    size: int


@dataclass(frozen=True)
class _Region:
    start: int
    end: int
    offset: int
    device: tuple[int, int]
    inode: int
    path: str


class MappedFiles:
    """The process's file mappings as they are now (read once from ``/proc/self/maps``)."""

    def __init__(self, maps_text: str | None = None) -> None:
        if maps_text is None:
            try:
                maps_text = _MAPS.read_text()
            except OSError:
                maps_text = ""
        regions = []
        for line in maps_text.splitlines():
            parts = line.split(maxsplit=5)
            # An anonymous region has no path; a "[heap]"-like one is not a file; a deleted file
            # cannot be read again.
            if len(parts) < 6 or not parts[5].startswith("/") or parts[5].endswith(" (deleted)"):
                continue
            start, end = (int(value, 16) for value in parts[0].split("-"))
            major, minor = (int(value, 16) for value in parts[3].split(":"))
            regions.append(_Region(start, end, int(parts[2], 16), (major, minor), int(parts[4]), parts[5]))
        self._regions = sorted(regions, key=lambda region: region.start)
        self._starts = [region.start for region in self._regions]

    def span_of(self, tensor: torch.Tensor) -> FileSpan | None:
        """Where ``tensor``'s bytes lie in the file it is a view of, when reading them there gives
        exactly its values: contiguous, inside one mapping of a file that is still the mapped one
        (same device and inode), and no page of it written since it was mapped (a private
        mapping's written page no longer matches the file). Otherwise None."""
        if tensor.device.type != "cpu" or tensor.is_quantized or not tensor.is_contiguous() or tensor.numel() == 0:
            return None
        start = tensor.data_ptr()
        size = tensor.numel() * tensor.element_size()
        index = bisect.bisect_right(self._starts, start) - 1
        if index < 0:
            return None
        region = self._regions[index]
        if start + size > region.end:
            return None
        try:
            found = os.stat(region.path)
        except OSError:
            return None
        if (os.major(found.st_dev), os.minor(found.st_dev)) != region.device or found.st_ino != region.inode:
            return None
        if not _pages_match_the_file(start, size):
            return None
        return FileSpan(region.path, region.offset + start - region.start, size)


def _pages_match_the_file(start: int, size: int) -> bool:
    """Whether no page in ``[start, start + size)`` holds data of its own: each is either not yet
    read (the file's bytes will be) or a page of the file itself. A written page of a private
    mapping becomes an anonymous one (present, not a file page) or is swapped out."""
    first = start // _PAGE
    count = (start + size - 1) // _PAGE - first + 1
    try:
        with _PAGEMAP.open("rb", buffering=0) as handle:
            handle.seek(first * 8)
            entries = handle.read(count * 8)
    except OSError:
        return False
    if len(entries) != count * 8:
        return False
    flags = array.array("Q", entries)
    return not any(entry & _SWAPPED or (entry & _PRESENT and not entry & _FILE_PAGE) for entry in flags)


def drop_resident_pages(tensor: torch.Tensor) -> None:
    """Take out of this process the pages that lie wholly inside ``tensor``, a view that
    ``span_of`` found clean: mapped file pages the loader touched around it (the kernel maps a
    whole page-cache folio, up to 2 MB, on one touch: ConvNeXt's load left 8 MB of Linear weights
    resident that nothing had read). They stay in the page cache; a later read of the view maps
    the file's bytes again, so its values are unchanged. Pages shared with a neighbouring tensor
    are kept. Does nothing where ``madvise`` is missing."""
    start = tensor.data_ptr()
    first = -(-start // _PAGE) * _PAGE
    last = (start + tensor.numel() * tensor.element_size()) // _PAGE * _PAGE
    if last <= first:
        return
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return
    madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), _MADV_DONTNEED)
