"""Real worker processes started by tests: started with their output in a log file, and stopped
the way a service manager stops them (SIGTERM, then a kill if it hangs)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from tests.support.paths import PROJECT_ROOT


def start_module(module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``python -m module`` from the project root with ``env``, stdout and stderr into ``log_path``."""
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", module], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def stop_all(processes: Iterable[subprocess.Popen], grace_seconds: float = 30) -> None:
    """SIGTERM every process still running, and kill one that has not exited ``grace_seconds`` later."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, seconds: float = 30.0) -> bool:
    """Whether ``pid`` ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.2)
    return False
