"""Supervising the llama.cpp engine's process: start, deadlines, crashes, restarts, the reason shown.

llama.cpp is native code that can segfault, abort or spin (ggml-org/llama.cpp#20824: its AMX
backend segfaults on the first decode), and in the app's process that would end every user's
session. So it runs in a child process (``llama_cpp_server``) that owns the GGUF copy and answers
token ids with logits over a pipe. The chat's tokenizer, chat template, logits processors,
sampling and streaming stay in the app (``DecodeLoop``), shared with the torch paths; an
OpenAI-compatible server (llama.cpp's own, through ``resolve.endpoints``) would need a GGUF with
the vocabulary and would template and sample on its own, a second home for each.

``EngineProcess`` is one model's child process:

- started when the model loads, and again by the first request after a failure, waiting
  ``restart_backoff_s`` doubled with each failure so a model that crashes on start does not
  spin; after ``max_failures`` failures the engine is disabled for this model, with the reason;
- every request has a deadline; a child that misses it is killed (a hang), and one whose pipe
  closes has crashed: either way the request raises ``EngineFailure`` naming the signal, and the
  caller (``llama_cpp_engine.LlamaCppModel``) finishes the reply in torch;
- the child ends when its stdin closes (``stop``, the app's exit: ``atexit`` stops them all) or
  when it sees its parent gone, so no engine outlives the app;
- before the first start the CPU is checked for the instruction set the build targets
  (``REQUIRED_CPU_FLAGS``, set by ``scripts/install-llama-cpp.sh``), and the child's system info
  for AMX (a native build from elsewhere): either disables the engine with the reason.

``engine_states`` lists every engine process for the Models page.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from backend.errors import ShowcaseError
from backend.i18n import _
from backend.models.engines import llama_cpp_server

# What the build in scripts/install-llama-cpp.sh targets (x86-64-v3), as /proc/cpuinfo names it.
REQUIRED_CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2")
# llama.cpp's system info names the AMX backend so when it is compiled in (a "native" build on an
# AMX CPU): the backend that segfaults (ggml-org/llama.cpp#20824).
_AMX_MARKER = "AMX_INT8 = 1"
START_DEADLINE_S = 600.0  # loading a large GGUF copy from a cold disk
CALL_DEADLINE_S = 120.0  # one forward pass: a 512-token prompt chunk on two busy cores
RESTART_BACKOFF_S = 2.0
MAX_FAILURES = 3
_ROOT = str(Path(__file__).resolve().parents[3])


class EngineFailure(ShowcaseError):
    """The engine's process crashed, hung, or is disabled; ``reason`` says which in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The llama.cpp engine {reason}, so this reply could not be finished.",
            "Send the message again: the next reply runs on a restarted engine, or in torch.",
        )
        self.reason = reason


@dataclass(frozen=True)
class EngineState:
    """One engine process as the Models page shows it."""

    model: str
    status: str  # "running", "stopped", "restarting" or "disabled"
    pid: int | None
    failures: int
    last_failure: str
    build: str

    def to_row(self) -> dict[str, object]:
        return {
            "engine": "llama.cpp",
            "model": self.model,
            "status": self.status,
            "process": self.pid or "—",
            "failures": self.failures,
            "last failure": self.last_failure or "—",
            "build": self.build,
        }


def missing_cpu_flags(cpuinfo: str, machine: str) -> list[str]:
    """The instruction-set extensions the build needs that ``cpuinfo`` (/proc/cpuinfo's text) lacks;
    none off x86-64 (the build's x86 options do not apply there) or where the flags are unknown."""
    if machine.lower() not in ("x86_64", "amd64"):
        return []
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            present = set(line.partition(":")[2].split())
            return [flag for flag in REQUIRED_CPU_FLAGS if flag not in present]
    return []


def _cpu_problem() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    missing = missing_cpu_flags(cpuinfo, platform.machine())
    return f"is off: this CPU lacks {', '.join(missing)}, which the llama.cpp build needs" if missing else ""


def describe_exit(returncode: int | None) -> str:
    """How a child ended, in words: "crashed (SIGSEGV)", "was killed (SIGKILL)", "exited with code 1"."""
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed ({name})" if name in ("SIGKILL", "SIGTERM") else f"crashed ({name})"
    return f"exited with code {returncode}"


def build_record() -> str:
    """The flags scripts/install-llama-cpp.sh recorded for the installed llama-cpp-python."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("llama_cpp")
        if spec is None or spec.origin is None:
            return "not installed"
        record = Path(spec.origin).parent / "llama_cpp_build_flags.txt"
        flags = record.read_text().splitlines()[2].removeprefix("CMAKE_ARGS=")
    except (OSError, IndexError):
        return "unknown (not built by scripts/install-llama-cpp.sh)"
    wanted = ("-DGGML_NATIVE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AVX512=OFF")
    return "portable x86-64-v3, no AVX-512 or AMX" if all(flag in flags for flag in wanted) else flags


class EngineProcess:
    """One GGUF copy's llama.cpp process, started and restarted on demand (see the module doc)."""

    def __init__(
        self,
        gguf_file: Path,
        threads: int,
        *,
        call_deadline_s: float = CALL_DEADLINE_S,
        start_deadline_s: float = START_DEADLINE_S,
        restart_backoff_s: float = RESTART_BACKOFF_S,
        max_failures: int = MAX_FAILURES,
        label: str = "",
    ) -> None:
        self.gguf_file = gguf_file
        self.threads = threads
        self.call_deadline_s = call_deadline_s
        self.start_deadline_s = start_deadline_s
        self.restart_backoff_s = restart_backoff_s
        self.max_failures = max_failures
        self.label = label or gguf_file.name
        self.vocabulary = 0
        self.system_info = ""
        # Which start a reply's context belongs to: one opened before a restart is gone.
        self.generation = 0
        self.failures = 0
        self.last_failure = ""
        self.disabled_reason = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._restart_at = 0.0
        self._users = 0
        self._lock = threading.Lock()
        _PROCESSES.append(self)

    # --- state ---

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def state(self) -> EngineState:
        if self.disabled_reason:
            status = "disabled"
        elif self.pid is not None:
            status = "running"
        else:
            status = "restarting" if self.failures else "stopped"
        last = self.disabled_reason or self.last_failure
        return EngineState(self.label, status, self.pid, self.failures, last, build_record())

    # --- the process ---

    def start(self) -> None:
        """Starts the child if it is not running, or raises ``EngineFailure`` (disabled, backing
        off after a failure, or it failed to start)."""
        with self._lock:
            self._ensure_started()

    def stop(self) -> None:
        """Ends the child (its stdin closes; killed if it does not exit at once)."""
        with self._lock:
            self._end()

    def attach(self) -> None:
        """A loaded model uses this process from now on."""
        with self._lock:
            self._users += 1

    def detach(self) -> None:
        """A model that used this process was unloaded; the last one's going ends the child."""
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._users = 0
                self._end()

    def _end(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _ensure_started(self) -> None:
        if self.disabled_reason:
            raise EngineFailure(self.disabled_reason)
        if self._process is not None:
            returncode = self._process.poll()
            if returncode is None:
                return
            # It died between two requests (a signal while idle, or while the reader was busy): the
            # reply in flight learns how, not just that a new process came.
            self._failed(describe_exit(returncode) + " between requests")
        self._process = None
        if time.monotonic() < self._restart_at:
            raise EngineFailure(_("{last_failure}; it restarts in a moment").format(last_failure=self.last_failure))
        if problem := _cpu_problem():
            self._disable(problem)
        self._process = subprocess.Popen(
            [sys.executable, "-m", llama_cpp_server.__name__, str(self.gguf_file), str(self.threads), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))},
        )
        self.generation += 1
        header, _body = self._answer(self.start_deadline_s, "start")
        if not header.get("ok"):
            self._end()
            self._disable(f"could not load the model ({header.get('error')})")
        self.vocabulary = int(header["vocabulary"])
        self.system_info = str(header["system_info"])
        if _AMX_MARKER in self.system_info:
            self._end()
            self._disable(
                "is off: this llama-cpp-python was built with llama.cpp's AMX backend, which segfaults"
                " (ggml-org/llama.cpp#20824); reinstall it with scripts/install-llama-cpp.sh"
            )

    def _disable(self, reason: str) -> NoReturn:
        self.disabled_reason = reason
        raise EngineFailure(reason)

    def _answer(self, deadline_s: float, what: str) -> tuple[dict[str, Any], bytes]:
        """The child's next frame, or ``EngineFailure`` once it died or the deadline passed."""
        process = self._process
        assert process is not None and process.stdout is not None
        frame = None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            # A frame is read whole once its first byte is there: the child writes it in one go.
            hung = not selector.select(timeout=deadline_s)
            if not hung:
                try:
                    frame = llama_cpp_server.read_frame(process.stdout)
                except (OSError, ValueError):
                    frame = None
        if frame is not None:
            return frame
        if hung:
            process.kill()
        try:
            # The pipe closes while the child dies: its exit status follows a moment later.
            returncode = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        reason = (
            f"stopped answering within {deadline_s:g} s during {what}; it was ended"
            if hung
            else describe_exit(returncode) + f" during {what}"
        )
        self._failed(reason)

    def _failed(self, reason: str) -> NoReturn:
        self._end()
        self.failures += 1
        self.last_failure = reason
        self._restart_at = time.monotonic() + self.restart_backoff_s * 2 ** (self.failures - 1)
        if self.failures >= self.max_failures:
            times = "twice" if self.failures == 2 else f"{self.failures} times"
            self._disable(f"failed {times} (last: {reason}) and is off for this model; chat runs in torch")
        raise EngineFailure(reason)

    def request(self, header: dict[str, Any], generation: int | None = None) -> tuple[dict[str, Any], bytes]:
        """The child's answer to ``header``. ``generation``: the start a reply was opened in; a
        reply from before a restart raises ``EngineFailure`` (its context died with that process).

        Raises:
            EngineFailure: the child crashed, hung, is disabled, or refused the request.
        """
        with self._lock:
            self._ensure_started()
            if generation is not None and generation != self.generation:
                raise EngineFailure(self.last_failure or _("was restarted"))
            process = self._process
            assert process is not None and process.stdin is not None
            with contextlib.suppress(OSError):  # the child is gone: reading its answer says how
                llama_cpp_server.write_frame(process.stdin, header)
            answer, payload = self._answer(self.call_deadline_s, str(header["op"]))
            if not answer.get("ok"):
                raise EngineFailure(_("refused a request ({answer})").format(answer=answer.get("error")))
            return answer, payload

    # --- what replies call ---

    def open_reply(self, length: int, batch: int) -> tuple[int, int]:
        """A context for one reply: (its id, the start it belongs to)."""
        answer, _ = self.request({"op": "open", "length": length, "batch": batch})
        return int(answer["reply"]), self.generation

    def forward(self, reply: tuple[int, int], tokens: list[int], position: int, every: bool) -> np.ndarray:
        request = {"op": "forward", "reply": reply[0], "tokens": tokens, "position": position, "every": every}
        answer, payload = self.request(request, reply[1])
        return np.frombuffer(payload, dtype=np.float32).reshape(int(answer["rows"]), self.vocabulary)

    def close_reply(self, reply: tuple[int, int]) -> None:
        """Frees a reply's context; nothing to free where its process is gone."""
        if reply[1] == self.generation and not self.disabled_reason and self.pid is not None:
            with contextlib.suppress(EngineFailure):
                self.request({"op": "close", "reply": reply[0]}, reply[1])


_PROCESSES: list[EngineProcess] = []
_PROCESSES_LOCK = threading.Lock()


def process_for(gguf_file: Path, threads: int, label: str) -> EngineProcess:
    """The engine process of ``gguf_file``: the one already made, so a model loaded again keeps
    its failures and a disabled engine stays off, or a new one."""
    with _PROCESSES_LOCK:
        for process in _PROCESSES:
            if process.gguf_file == gguf_file:
                return process
        return EngineProcess(gguf_file, threads, label=label)


def engine_states() -> list[EngineState]:
    """Every llama.cpp engine process this app started, for the Models page."""
    return [process.state() for process in list(_PROCESSES)]


def forget(process: EngineProcess) -> None:
    """Stops ``process`` and drops it from the Models page (its model was unloaded)."""
    process.stop()
    if process in _PROCESSES:
        _PROCESSES.remove(process)


@atexit.register
def _stop_all() -> None:
    for process in list(_PROCESSES):
        process.stop()
