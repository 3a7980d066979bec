"""A real small filesystem (tmpfs of a few MB) that a test fills, to see what a full disk does.

Mounting needs root; elsewhere the tests that use it skip with that reason. ``fill`` writes a
filler file until the kernel answers ENOSPC, and returns it so the test can free the space again.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(folder: Path, megabytes: int = 16) -> Iterator[Path]:
    """``folder`` as a fresh tmpfs of ``megabytes``, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()[:200]}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last byte; returns the filler file."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    try:
        with filler.open("ab") as handle:
            while True:
                handle.write(chunk)
                handle.flush()
    except OSError:
        pass
    try:  # the last few KB a whole chunk did not fit in
        with filler.open("ab") as handle:
            while True:
                handle.write(b"\0" * 512)
                handle.flush()
    except OSError:
        pass
    return filler
