"""Giving a waiting thread's OpenMP workers back, checked on the process's real thread list."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch

from backend.models.engines import openmp

pytestmark = [
    pytest.mark.torch_threads,
    pytest.mark.skipif(openmp._libgomp() is None, reason="torch here does not use libgomp (Linux wheels do)"),
    pytest.mark.skipif(torch.get_num_threads() < 2, reason="one torch thread: libgomp keeps no worker pool"),
]


def _threads() -> int:
    return len(os.listdir(Path("/proc/self/task")))


def _in_fresh_thread(work) -> object:
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join()
    return box[0]


def test_release_frees_the_calling_threads_pool_and_torch_still_computes():
    def work() -> tuple[int, int, int, float]:
        values = torch.ones(1 << 22)
        values.add_(1)  # large enough to run in parallel: the pool now exists
        with_pool = _threads()
        assert openmp.release_idle_workers() is True
        without_pool = _threads()
        values.add_(1)  # a new pool, built on demand
        return with_pool, without_pool, _threads(), float(values.sum())

    # Another test's thread ending in the same instant would change the count: measure up to 3 times.
    attempts = [_in_fresh_thread(work) for _ in range(3)]
    assert all(total == 3 * (1 << 22) for *_, total in attempts)
    freed = torch.get_num_threads() - 1
    assert any(without == with_pool - freed and rebuilt == with_pool for with_pool, without, rebuilt, _ in attempts)


def test_release_without_a_pool_changes_nothing():
    def work() -> tuple[int, int]:
        before = _threads()
        openmp.release_idle_workers()
        return before, _threads()

    # As above, a thread of an earlier test may end in between: one clean measurement out of 3 is enough,
    # while a release that freed another thread's pool would lower the count every time.
    attempts = [_in_fresh_thread(work) for _ in range(3)]
    assert any(after == before for before, after in attempts), attempts
