"""The llama.cpp engine's own process (``engine_process``; ONNX Runtime's and CTranslate2's are
tested in test_runtimes.py): a segfault, a kill or a hang there ends only that process;
the reply in flight is finished by torch (or, without torch to fall back on, explained in words),
the next reply runs on a restarted engine, repeated failures turn the engine off with the reason,
and no engine process outlives the app. Every failure here is real: the engine's process is sent
the signal (``os.kill`` on its pid) or stopped (SIGSTOP) while a reply is being written."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig

from backend.config import PROJECT_ROOT
from backend.models.engines import engine_process, runtimes
from backend.models.loader import load_model
from backend.models.resolve import catalogue, engine_choice
from backend.models.status import engine_rows
from tests.support import tiny_models
from tests.support.processes import wait_gone

pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by the test command (scripts/test.sh)")

PROMPT = torch.tensor([[5, 17, 42, 8, 99, 3, 61, 27, 14, 150, 33]])
NEW_TOKENS = 12
KILLED_AFTER = 4  # new tokens written before the signal


class _SignalAfter:
    """A streamer that sends ``signum`` to the engine's process once ``after`` new tokens came."""

    def __init__(self, process: engine_process.EngineProcess, signum: int, after: int = KILLED_AFTER) -> None:
        self.process, self.signum, self.after = process, signum, after
        self.new_tokens = 0
        self.signalled_pid: int | None = None

    def put(self, value: torch.Tensor) -> None:
        if value.dim() > 1:  # the prompt
            return
        self.new_tokens += 1
        if self.new_tokens == self.after and self.signalled_pid is None:
            self.signalled_pid = self.process.pid
            assert self.signalled_pid is not None
            os.kill(self.signalled_pid, self.signum)

    def end(self) -> None:
        pass


def _row(process: engine_process.EngineProcess) -> dict[str, object]:
    """The Models page's row for ``process``."""
    return next(row for row in engine_rows() if row["model"] == process.label)


def _greedy(pad: int) -> GenerationConfig:
    # No end token: every reply is NEW_TOKENS long, so the signal always lands mid-reply.
    return GenerationConfig(max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=None, pad_token_id=pad)


@pytest.fixture
def engine_model(settings, tmp_path):
    """A tiny chat model loaded with the llama.cpp setting (its own GGUF copy, so its own engine
    process), restarts without waiting."""
    folder = tiny_models.build_chat_model_of(settings.models_dir / "llama-cpp-process" / tmp_path.name, "llama")
    chosen = dataclasses.replace(settings, cpu_engine="text-generation=llama.cpp")
    loaded = load_model(catalogue.TEXT_GENERATION, str(folder), chosen)
    assert loaded.engine == engine_choice.LLAMA_CPP
    process = loaded.model.process
    process.restart_backoff_s = 0.0
    yield loaded, process, folder, chosen
    engine_process.forget(process)


def _torch_continuation(loaded, reply: torch.Tensor, config: GenerationConfig) -> list[int]:
    """What the model's torch loop writes after the reply's first KILLED_AFTER new tokens."""
    start = PROMPT.shape[1] + KILLED_AFTER
    rest = GenerationConfig(**{**config.to_dict(), "max_new_tokens": NEW_TOKENS - KILLED_AFTER})
    decoder = loaded.model._fallback
    assert decoder is not None and not isinstance(decoder, type(loaded.model))
    return decoder.generate(reply[:, :start], rest)[0, start:].tolist()


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_an_engine_killed_mid_reply_has_the_reply_finished_by_torch(engine_model, signum):
    loaded, process, _, _ = engine_model
    engine = loaded.decoder
    config = _greedy(loaded.model.generation_config.pad_token_id)
    streamer = _SignalAfter(process, signum)
    reply = engine.generate(PROMPT, config, streamer)
    assert reply.shape[1] == PROMPT.shape[1] + NEW_TOKENS
    assert wait_gone(streamer.signalled_pid)
    words = "crashed (SIGSEGV)" if signum == signal.SIGSEGV else "was killed (SIGKILL)"
    note = engine.take_note()
    assert words in note and "torch finished this reply" in note, note
    assert engine.take_note() == ""  # a note belongs to one reply
    # The tokens after the kill are the torch loop's own continuation of the reply so far.
    assert reply[0, PROMPT.shape[1] + KILLED_AFTER :].tolist() == _torch_continuation(loaded, reply, config)
    assert process.failures == 1 and words in process.last_failure
    # The next reply runs on a restarted engine, in llama.cpp again.
    again = engine.generate(PROMPT, config)
    assert again.shape[1] == PROMPT.shape[1] + NEW_TOKENS
    assert engine.take_note() == ""
    assert process.pid is not None and process.pid != streamer.signalled_pid
    row = _row(process)
    assert row["status"] == "running" and row["failures"] == 1 and row["process"] == process.pid


def test_a_hung_engine_is_ended_at_the_deadline_and_torch_answers(engine_model):
    loaded, process, _, _ = engine_model
    process.call_deadline_s = 3.0
    config = _greedy(loaded.model.generation_config.pad_token_id)
    streamer = _SignalAfter(process, signal.SIGSTOP)  # the process stops answering, as in a hang
    reply = loaded.decoder.generate(PROMPT, config, streamer)
    assert reply.shape[1] == PROMPT.shape[1] + NEW_TOKENS
    note = loaded.decoder.take_note()
    assert "stopped answering within 3 s" in note and "torch finished this reply" in note, note
    assert wait_gone(streamer.signalled_pid)  # ended, not left stopped
    loaded.decoder.generate(PROMPT, config)
    assert loaded.decoder.take_note() == "" and process.pid not in (None, streamer.signalled_pid)


def test_repeated_crashes_turn_the_engine_off_with_the_reason(engine_model, settings):
    loaded, process, folder, chosen = engine_model
    process.max_failures = 2
    config = _greedy(loaded.model.generation_config.pad_token_id)
    for _ in range(2):
        loaded.decoder.generate(PROMPT, config, _SignalAfter(process, signal.SIGSEGV))
        loaded.decoder.take_note()
    row = _row(process)
    assert row["status"] == "disabled" and row["process"] == "—"
    assert "failed twice (last: crashed (SIGSEGV)" in str(row["last failure"])
    assert "chat runs in torch" in str(row["last failure"])
    # Replies go on, in torch, each saying why; no engine process is started again.
    reply = loaded.decoder.generate(PROMPT, config)
    assert reply.shape[1] == PROMPT.shape[1] + NEW_TOKENS
    note = loaded.decoder.take_note()
    assert "failed twice" in note and "torch answered this reply" in note, note
    assert process.pid is None
    # The model loaded again keeps the engine off: it loads in torch.
    assert load_model(catalogue.TEXT_GENERATION, str(folder), chosen).engine == engine_choice.TORCH


def test_without_torch_to_fall_back_on_the_reply_is_explained(engine_model):
    _, _, folder, _ = engine_model
    engine, _ = runtimes.llama_cpp_chat(folder)  # no loader: no torch fallback
    engine.process.restart_backoff_s = 0.0
    config = _greedy(engine.generation_config.pad_token_id)
    with pytest.raises(engine_process.EngineFailure) as failure:
        engine.generate(PROMPT, config, _SignalAfter(engine.process, signal.SIGSEGV))
    assert "The llama.cpp engine crashed (SIGSEGV)" in failure.value.user_text()
    assert "Send it again" in failure.value.user_text()
    assert engine.generate(PROMPT, config).shape[1] == PROMPT.shape[1] + NEW_TOKENS


_APP = """
import os, signal, sys, time
from pathlib import Path
from backend.models.engines import runtimes
engine, _ = runtimes.llama_cpp_chat(Path(sys.argv[1]))
print(engine.process.pid, flush=True)
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no cleanup: the engine must notice alone
"""


@pytest.mark.parametrize("ending", ["exits", "killed"])
def test_no_engine_process_outlives_the_app(engine_model, ending):
    folder = engine_model[2]
    app = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_APP), str(folder), ending],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert app.returncode == (-signal.SIGKILL if ending == "killed" else 0), app.stderr[-2000:]
    engine_pid = int(app.stdout.split()[0])
    assert wait_gone(engine_pid)


def test_the_cpu_check_names_what_the_build_needs():
    avx_only = "processor\t: 0\nflags\t\t: fpu sse sse2 avx\n"
    assert engine_process.missing_cpu_flags(avx_only, "x86_64") == ["avx2", "fma", "f16c", "bmi2"]
    assert engine_process.missing_cpu_flags(avx_only, "aarch64") == []
    assert engine_process.missing_cpu_flags(Path("/proc/cpuinfo").read_text(), "x86_64") == []
    assert engine_process.describe_exit(-signal.SIGSEGV) == "crashed (SIGSEGV)"
    assert engine_process.describe_exit(-signal.SIGABRT) == "crashed (SIGABRT)"
    assert engine_process.describe_exit(3) == "exited with code 3"


def test_the_installed_build_targets_x86_64_v3_without_avx512_or_amx(engine_model):
    """What CI tests is what runs: the build's instruction set is the one chosen, whatever the
    machine that compiled it has (this one has AVX-512 and AMX)."""
    info = engine_model[1].system_info
    assert "AVX2 = 1" in info and "FMA = 1" in info, info
    assert "AMX_INT8 = 1" not in info and "AVX512 = 1" not in info, info
    assert engine_process.build_record() == "portable x86-64-v3, no AVX-512 or AMX"
