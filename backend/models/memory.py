"""Out-of-memory handling shared by loading, inference and training.

One detector (``is_out_of_memory``), one way to hand freed memory back to the accelerator
(``free_accelerator_memory``), one to hand a finished job's memory back to the system
(``release_memory``) and one retry policy (``halve_on_oom``: run with a size, halve it
after an out-of-memory error, give up in words at 1).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
from collections.abc import Callable
from typing import TypeVar

import torch

from backend.errors import ShowcaseError

Result = TypeVar("Result")
Loaded = TypeVar("Loaded")
# How CUDA kernels and torch's CPU allocator word it when they raise a plain RuntimeError.
_OUT_OF_MEMORY_TEXTS = ("out of memory", "can't allocate memory")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` means the device or the host ran out of memory.

    CUDA reports it as ``torch.OutOfMemoryError`` or, from some kernels and libraries, as a plain
    ``RuntimeError("CUDA error: out of memory")``; the host as ``MemoryError`` from Python or as
    torch's CPU allocator's ``RuntimeError("... can't allocate memory ...")``. An error already
    turned into a user message (a ``ShowcaseError``) is not one, whatever its text says.
    """
    if isinstance(error, ShowcaseError):
        return False
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(error).lower()
    return any(sign in text for sign in _OUT_OF_MEMORY_TEXTS)


def free_accelerator_memory() -> None:
    """Collect dropped objects and give the GPU's cached blocks back, so a retry or the next
    model finds the memory free (a no-op for the GPU part on CPU-only hosts)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def malloc_trim() -> None:
    """Ask glibc to return freed heap pages to the system (skipped silently elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    # musl or another libc without malloc_trim: nothing to trim.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def without_parse_garbage(preprocessor: Loaded) -> Loaded:
    """``preprocessor`` (just loaded), after the heap pages its load freed went back to the system.

    A tokenizer's load parses its whole JSON file into blocks it frees at once, and glibc keeps
    them: SmolLM2's tokenizer holds 46 MB after loading, 14 MB once trimmed. Trimmed before the
    weights load, that garbage is not held beside them (the freed blocks are too small and
    scattered for the weights' allocations to reuse).
    """
    malloc_trim()
    return preprocessor


def release_memory() -> None:
    """Give a finished job's memory back: collect, empty the GPU cache, trim the C heap.

    Without the trim, glibc keeps the pages a job's decoded images or tensors used, and a worker
    that ran one large batch stays large while idle.
    """
    free_accelerator_memory()
    malloc_trim()


def halve_on_oom(
    run: Callable[[int], Result],
    size: int,
    give_up: Callable[[BaseException], ShowcaseError],
    on_retry: Callable[[int], None] | None = None,
) -> Result:
    """Call ``run(size)``, halving ``size`` after each out-of-memory error until it fits.

    Args:
        run: does the work at a given batch size; it is called again from the start after an
            out-of-memory error, so it must be safe to repeat (or resume where it stopped).
        size: the size to try first.
        give_up: builds the error raised when even a size of 1 runs out of memory.
        on_retry: called with the new size before each retry (to log it).

    Raises:
        ShowcaseError: from ``give_up``, chained to the last out-of-memory error.
        Exception: any error that is not out-of-memory, unchanged.
    """
    while True:
        try:
            return run(size)
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            free_accelerator_memory()
            if size <= 1:
                raise give_up(error) from error
            size = max(1, size // 2)
            if on_retry is not None:
                on_retry(size)
