"""Supervising the native engines' processes: start, deadlines, crashes, restarts, the reason shown.

llama.cpp, ONNX Runtime and CTranslate2 are native code that can segfault, abort or spin
(ggml-org/llama.cpp#20824: llama.cpp's AMX backend segfaults on the first decode), and in the
app's process that would end every user's session. So each engine's copy of a model runs in a
child process (``engine_server``) that answers token ids or tensors with logits, outputs or
tokens over a pipe. Tokenisers, templates, sampling, softmax and streaming stay in the app, shared
with the torch paths. An engine's model (``llama_cpp_engine.LlamaCppModel``,
``runtimes.OnnxModel``, ``runtimes.CTranslate2Seq2Seq``) answers in torch where its process fails
(``FallsBackToTorch``), and says so.

``EngineProcess`` is one engine copy's child process (one per model and engine: the app's model
cache bounds how many are loaded, and a crash or a disabled engine then concerns one model):

- started when the model loads, and again by the first request after a failure, waiting
  ``restart_backoff_s`` doubled with each failure so a model that crashes on start does not
  spin; after ``max_failures`` failures the engine is disabled for this model, with the reason;
- every request has a deadline; a child that misses it is killed (a hang), and one whose pipe
  closes has crashed: either way the request raises ``EngineFailure`` naming the signal, and the
  caller answers in torch;
- the child ends when its stdin closes (``stop``, the last model using it unloaded, the app's
  exit: ``atexit`` stops them all) or when it sees its parent gone, so no engine outlives the app;
- for llama.cpp, before the first start the CPU is checked for the instruction set the build
  targets (``REQUIRED_CPU_FLAGS``, set by ``scripts/install-llama-cpp.sh``), and the child's system
  info for AMX (a native build from elsewhere): either disables the engine with the reason.

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
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from backend.errors import ShowcaseError
from backend.i18n import _
from backend.models.engines import engine_server
from backend.models.resolve import engine_choice

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
# The engines' names as users read them.
TITLES = {engine_choice.LLAMA_CPP: "llama.cpp", engine_choice.ONNX: "ONNX Runtime",
          engine_choice.CTRANSLATE2: "CTranslate2"}  # fmt: skip


def child_environment() -> dict[str, str]:
    """The environment of an engine's process: the app's, with the project importable."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}


class EngineFailure(ShowcaseError):
    """The engine's process crashed, hung, or is disabled; ``reason`` says which in words."""

    def __init__(self, reason: str, engine: str = engine_choice.LLAMA_CPP) -> None:
        title = TITLES.get(engine, engine)
        super().__init__(
            _("The {engine} engine {reason}, so this answer could not be finished.").format(
                engine=title, reason=reason
            ),
            _("Send it again: the next request runs on a restarted engine, or in torch."),
        )
        self.reason = reason
        self.engine = engine


@dataclass(frozen=True)
class EngineState:
    """One engine process as the Models page shows it."""

    engine: str
    model: str
    status: str  # "running", "stopped", "restarting" or "disabled"
    pid: int | None
    failures: int
    last_failure: str
    build: str

    def to_row(self) -> dict[str, object]:
        return {
            "engine": TITLES.get(self.engine, self.engine),
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


def _build(engine: str) -> str:
    if engine == engine_choice.LLAMA_CPP:
        return build_record()
    try:
        return f"{engine_choice.PACKAGES[engine]} {metadata.version(engine_choice.PACKAGES[engine])}"
    except (KeyError, metadata.PackageNotFoundError):
        return "not installed"


class EngineProcess:
    """One engine copy's process, started and restarted on demand (see the module doc).

    ``model_path``: what the engine loads (a GGUF file, an ONNX graph, a CTranslate2 folder).
    """

    def __init__(
        self,
        engine: str,
        model_path: Path,
        threads: int,
        *,
        call_deadline_s: float = CALL_DEADLINE_S,
        start_deadline_s: float = START_DEADLINE_S,
        restart_backoff_s: float = RESTART_BACKOFF_S,
        max_failures: int = MAX_FAILURES,
        label: str = "",
    ) -> None:
        if engine not in engine_server.ENGINES:
            raise ValueError(f"no engine process runs {engine!r}")
        self.engine = engine
        self.model_path = model_path
        self.threads = threads
        self.call_deadline_s = call_deadline_s
        self.start_deadline_s = start_deadline_s
        self.restart_backoff_s = restart_backoff_s
        self.max_failures = max_failures
        self.label = label or model_path.name
        self.vocabulary = 0
        self.system_info = ""
        self.start_info: dict[str, Any] = {}
        self.files_stamp: tuple[tuple[str, int, int], ...] = ()
        # Which start a reply's context belongs to: one opened before a restart is gone.
        self.generation = 0
        self.failures = 0
        self.last_failure = ""
        self.disabled_reason = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._restart_at = 0.0
        self._users = 0
        # Re-entrant: a model's ``__del__`` (detach) may run from a garbage collection inside a
        # request of another model of the same copy, on the thread that holds the lock.
        self._lock = threading.RLock()
        _PROCESSES.append(self)

    def _failure(self, reason: str) -> EngineFailure:
        return EngineFailure(reason, self.engine)

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
        return EngineState(self.engine, self.label, status, self.pid, self.failures, last, _build(self.engine))

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
            raise self._failure(self.disabled_reason)
        if self._process is not None:
            returncode = self._process.poll()
            if returncode is None:
                return
            # It died between two requests (a signal while idle, or while the reader was busy): the
            # request in flight learns how, not just that a new process came.
            self._failed(describe_exit(returncode) + " between requests")
        self._process = None
        if time.monotonic() < self._restart_at:
            raise self._failure(_("{last_failure}; it restarts in a moment").format(last_failure=self.last_failure))
        if self.engine == engine_choice.LLAMA_CPP and (problem := _cpu_problem()):
            self._disable(problem)
        command = [sys.executable, "-m", engine_server.__name__, self.engine, str(self.model_path),
                   str(self.threads), str(os.getpid())]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_environment(),
        )
        self.generation += 1
        header, _arrays = self._answer(self.start_deadline_s, "start")
        if not header.get("ok"):
            self._end()
            self._disable(f"could not load the model ({header.get('error')})")
        self.start_info = header
        self.vocabulary = int(header.get("vocabulary", 0))
        self.system_info = str(header.get("system_info", ""))
        if self.engine == engine_choice.LLAMA_CPP and _AMX_MARKER in self.system_info:
            self._end()
            self._disable(
                "is off: this llama-cpp-python was built with llama.cpp's AMX backend, which segfaults"
                " (ggml-org/llama.cpp#20824); reinstall it with scripts/install-llama-cpp.sh"
            )

    def _disable(self, reason: str) -> NoReturn:
        self.disabled_reason = reason
        raise self._failure(reason)

    def _answer(self, deadline_s: float, what: str) -> tuple[dict[str, Any], engine_server.Arrays]:
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
                    frame = engine_server.read_frame(process.stdout)
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
            where = "chat runs in torch" if self.engine == engine_choice.LLAMA_CPP else "torch answers instead"
            self._disable(f"failed {times} (last: {reason}) and is off for this model; {where}")
        raise self._failure(reason)

    def request(
        self, header: dict[str, Any], arrays: engine_server.Arrays | None = None, generation: int | None = None
    ) -> tuple[dict[str, Any], engine_server.Arrays]:
        """The child's answer to ``header`` (with ``arrays``). ``generation``: the start a reply was
        opened in; a reply from before a restart raises ``EngineFailure`` (its context died with
        that process).

        Raises:
            EngineFailure: the child crashed, hung, is disabled, or refused the request.
        """
        with self._lock:
            self._ensure_started()
            if generation is not None and generation != self.generation:
                raise self._failure(self.last_failure or _("was restarted"))
            process = self._process
            assert process is not None and process.stdin is not None
            with contextlib.suppress(OSError):  # the child is gone: reading its answer says how
                engine_server.write_frame(process.stdin, header, arrays)
            answer, outputs = self._answer(self.call_deadline_s, str(header["op"]))
            if not answer.get("ok"):
                raise self._failure(_("refused a request ({answer})").format(answer=answer.get("error")))
            return answer, outputs

    # --- what llama.cpp's replies call ---

    def open_reply(self, length: int, batch: int) -> tuple[int, int]:
        """A context for one reply: (its id, the start it belongs to)."""
        answer, _ = self.request({"op": "open", "length": length, "batch": batch})
        return int(answer["reply"]), self.generation

    def forward(self, reply: tuple[int, int], tokens: list[int], position: int, every: bool) -> np.ndarray:
        request = {"op": "forward", "reply": reply[0], "tokens": tokens, "position": position, "every": every}
        _answer, outputs = self.request(request, generation=reply[1])
        return outputs["logits"]

    def close_reply(self, reply: tuple[int, int]) -> None:
        """Frees a reply's context; nothing to free where its process is gone."""
        if reply[1] == self.generation and not self.disabled_reason and self.pid is not None:
            with contextlib.suppress(EngineFailure):
                self.request({"op": "close", "reply": reply[0]}, generation=reply[1])


_PROCESSES: list[EngineProcess] = []
_PROCESSES_LOCK = threading.Lock()


def _files_stamp(model_path: Path) -> tuple[tuple[str, int, int], ...]:
    """What the engine's copy is on disk (each file's name, size and time): a copy made again
    (new weights, a new export) is a new copy, which a running child would not see."""
    try:
        files = sorted(model_path.iterdir()) if model_path.is_dir() else [model_path]
        return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file())
    except OSError:
        return ()


def process_for(engine: str, model_path: Path, threads: int, label: str) -> EngineProcess:
    """The engine process of ``model_path``: the one already made, so a model loaded again keeps
    its failures and a disabled engine stays off, or a new one where the copy on disk changed
    since (the old one is stopped and dropped)."""
    stamp = _files_stamp(model_path)
    with _PROCESSES_LOCK:
        for process in list(_PROCESSES):
            if process.engine == engine and process.model_path == model_path:
                if process.files_stamp == stamp:
                    return process
                forget(process)
        process = EngineProcess(engine, model_path, threads, label=label)
        process.files_stamp = stamp
        return process


def engine_states() -> list[EngineState]:
    """Every engine process this app started, for the Models page."""
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


class FallsBackToTorch:
    """An engine's model that answers in torch where its process fails: ``torch_fallback`` (set by
    the loader) gives the model's torch form, loaded the first time it is needed; each answer that
    came from torch leaves a note (``take_note``, per thread) saying why. Without a fallback the
    failure is raised, its message saying what happened.

    Raises (on construction):
        EngineFailure: the engine is disabled for this model or its process did not start.
    """

    def __init__(self, process: EngineProcess) -> None:
        process.attach()  # before the start: another model's unload then cannot end the new process
        try:
            process.start()
        except EngineFailure:
            process.detach()
            raise
        self.process = process
        self.torch_fallback: Callable[[], Any] | None = None
        self._fallback: Any = None
        self._fallback_lock = threading.Lock()
        self._notes = threading.local()

    def __del__(self) -> None:
        process = getattr(self, "process", None)
        if process is not None:
            process.detach()

    def _torch_model(self, failure: EngineFailure) -> Any:
        """The torch form (loaded once), or ``failure`` raised where there is none."""
        with self._fallback_lock:
            if self._fallback is None:
                if self.torch_fallback is None:
                    raise failure
                self._fallback = self.torch_fallback()
            return self._fallback

    def _leave_note(self, note: str) -> None:
        self._notes.value = note

    def take_note(self) -> str:
        """Why this thread's last answer came from torch ("" when the engine gave it)."""
        note, self._notes.value = getattr(self._notes, "value", ""), ""
        return note

    def answered_by_torch(self, failure: EngineFailure) -> Any:
        """The torch form for an answer the engine could not give, with the note saying so."""
        model = self._torch_model(failure)
        self._leave_note(
            _("The {engine} engine {reason}; torch answered this request.").format(
                engine=TITLES.get(failure.engine, failure.engine), reason=failure.reason
            )
        )
        return model
