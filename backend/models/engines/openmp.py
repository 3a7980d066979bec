"""Hand a thread's idle OpenMP workers back before another thread does the computing.

libgomp, the OpenMP runtime of Linux torch wheels, gives every thread that ever ran a parallel
torch op its own pool of worker threads and keeps it until that thread exits. Once the pools
together hold more threads than there are CPUs, libgomp stops spinning at its barriers and
sleeps instead, which slows every parallel op in every pool. A streamed chat reply runs
``generate`` in a thread of its own while the caller only waits for text, so an idle pool left
in the caller (the benchmark's main thread, or a page run that has just loaded the model) made
each decoding step about 20% slower on a 2-core host (``benchmarks/RESULTS.md``).

Other OpenMP runtimes (LLVM's libomp on macOS) pause every pool at once, not just the caller's,
so this does nothing there.
"""

from __future__ import annotations

import ctypes
import functools
import os

import torch  # noqa: F401 - loads libgomp, which this module only looks up

_LIBGOMP = "libgomp.so.1"
_PAUSE_SOFT = 1  # omp_pause_soft: free the threads, keep what can be rebuilt


@functools.cache
def _libgomp() -> ctypes.CDLL | None:
    """The libgomp torch has already loaded, or None (another runtime, or not Linux)."""
    no_load = getattr(os, "RTLD_NOLOAD", None)
    if no_load is None:
        return None
    try:
        library = ctypes.CDLL(_LIBGOMP, mode=no_load)
    except OSError:
        return None
    return library if hasattr(library, "omp_pause_resource_all") else None


def release_idle_workers() -> bool:
    """Free the calling thread's OpenMP worker pool, if it has one.

    Returns False where the runtime is not libgomp and nothing was done.

    Call it from a thread that is about to wait while another computes. Its next parallel op
    builds a new pool, which costs a few thread starts. Only the calling thread's pool is
    touched: other threads' running ops are unaffected.
    """
    library = _libgomp()
    return library is not None and library.omp_pause_resource_all(_PAUSE_SOFT) == 0
