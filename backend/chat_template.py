"""Chat templates rendered in a sandboxed process with time, output and memory limits.

A chat template is Jinja code shipped in a model folder: code the operator did not write. Jinja's
sandbox stops it from reaching Python, but not from looping for ever or writing gigabytes (a
``{% for %}`` of 100,000 100 KB strings passed 6 GB in 12 s in the app's own process), and a loop
in the calling thread cannot be interrupted. So every rendering (*Check data*, training and the
chat demo) goes through :func:`render_chats`, which sends the conversations to one warm helper
process (``python -m backend.chat_template``) that renders them with transformers' own Jinja
environment (the same output as ``apply_chat_template``). There:

- an interval timer stops a request that runs past its time (a Jinja loop is Python, which
  checks for the signal between steps), and the caller kills and replaces a helper that still
  does not answer;
- each conversation's output is counted as Jinja produces it, and stopped past its cap;
- an address-space limit turns one huge allocation (``'X' * 10**10``) into a MemoryError.

A refusal names the model and the limit; the caller's thread is never held past the deadline.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.errors import InvalidInputError, UnsafeModelError
from backend.i18n import _

Messages = list[dict[str, str]]

# Every conversation may render to this much besides four times its own text (templates repeat a
# system prompt or wrap turns; none writes more than a few KB of their own).
_OUTPUT_BASE_CHARS = 256 * 1024
_OUTPUT_PER_TEXT_CHAR = 4
# Time for one request: a base plus a little per conversation (ordinary templates take well under
# a millisecond per conversation). The caller gives the helper this much more before killing it.
_BASE_SECONDS = 5.0
_SECONDS_PER_CONVERSATION = 0.01
_KILL_GRACE_SECONDS = 5.0
# Renderings per request: at most about 10 s of the helper for one session at a time.
_CHUNK = 500
# Memory the helper may take beyond what it holds after its imports.
_HELPER_HEADROOM_BYTES = 768 * 2**20
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def output_cap(messages: Messages) -> int:
    """Most characters one conversation's rendering may have."""
    return _OUTPUT_BASE_CHARS + _OUTPUT_PER_TEXT_CHAR * sum(len(str(m.get("content", ""))) for m in messages)


def time_limit(conversations: int) -> float:
    """Seconds one request of ``conversations`` renderings may take."""
    return _BASE_SECONDS + _SECONDS_PER_CONVERSATION * conversations


class _Helper:
    """The warm helper process, started on first use and replaced when it dies or is killed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "backend.chat_template"],
                cwd=_PROJECT_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": str(_PROJECT_ROOT)},
            )
        return self._process

    def ask(self, request: dict[str, Any], seconds: float) -> dict[str, Any] | None:
        """The helper's answer, or None when it did not answer in time (it is killed then)."""
        with self._lock:
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps(request).encode() + b"\n")
                process.stdin.flush()
            except OSError:
                self._kill()
                return None
            answer = _read_line(process.stdout.fileno(), time.monotonic() + seconds + _KILL_GRACE_SECONDS)
            if answer is None:
                self._kill()
                return None
            return json.loads(answer)

    def close(self) -> None:
        """Stop the helper (at exit: it would end with its stdin anyway)."""
        with self._lock:
            self._kill()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _read_line(fd: int, deadline: float) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None  # the helper died (a MemoryError it could not report, a kill)
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


_helper = _Helper()
atexit.register(_helper.close)


def template_of(tokenizer: Any) -> str:
    """The tokenizer's chat template text (its default one when it names several)."""
    return tokenizer.get_chat_template()


def render_chats(
    tokenizer: Any,
    conversations: Sequence[Messages],
    generation_prompt: bool | Sequence[bool] = False,
    model_name: str = "The model",
) -> list[str]:
    """Render conversations with the tokenizer's chat template, as ``apply_chat_template`` would.

    Args:
        tokenizer: has the chat template and the special tokens the template may use.
        conversations: lists of ``{"role", "content"}`` messages.
        generation_prompt: whether to add the assistant's header at the end; one for all, or one
            per conversation.
        model_name: how the model is named in messages.

    Raises:
        UnsafeModelError: the template ran past its time or output limit, or tried something
            the sandbox forbids; it is refused (nothing was rendered).
        InvalidInputError: the template itself refused a conversation (``raise_exception``), even
            with the system message folded into the first user turn (``system_in_first_turn``).
    """
    try:
        return _render_all(tokenizer, conversations, generation_prompt, model_name)
    except InvalidInputError:
        folded = [system_in_first_turn(list(messages)) or list(messages) for messages in conversations]
        if folded == [list(messages) for messages in conversations]:
            raise
        # Gemma's templates refuse a system role, which the chat demo, the arena and chat tuning's
        # data may all carry: it goes where those models' cards put it. Folding every conversation
        # keeps a conversation's prefixes folded alike, so tuning finds each reply where it renders.
        return _render_all(tokenizer, folded, generation_prompt, model_name)


def _render_all(
    tokenizer: Any, conversations: Sequence[Messages], generation_prompt: bool | Sequence[bool], model_name: str
) -> list[str]:
    if not conversations:
        return []
    prompts = [generation_prompt] * len(conversations) if isinstance(generation_prompt, bool) else generation_prompt
    template = template_of(tokenizer)
    variables = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    rendered: list[str] = []
    # In chunks: the helper serves every session, and each chunk lets the others in between.
    for start in range(0, len(conversations), _CHUNK):
        chunk = [list(c) for c in conversations[start : start + _CHUNK]]
        rendered.extend(_render_chunk(template, variables, chunk, list(prompts[start : start + _CHUNK]), model_name))
    return rendered


def _render_chunk(
    template: str, variables: dict[str, str], conversations: list[Messages], prompts: list[bool], model_name: str
) -> list[str]:
    seconds = time_limit(len(conversations))
    request = {
        "template": template,
        "variables": variables,
        "conversations": conversations,
        "prompts": prompts,
        "seconds": seconds,
    }
    answer = _helper.ask(request, seconds)
    if answer is None:
        raise UnsafeModelError(
            _("{model_name}'s chat template did not finish within {seconds:.0f} s, so it is refused.").format(
                model_name=model_name, seconds=seconds
            ),
            _("Pick another chat model."),
            "The template ran in a separate process, which was stopped; the app was not held up.",
        )
    if "rendered" in answer:
        return answer["rendered"]
    kind, said = answer.get("error", ""), answer.get("message", "")
    if kind == "refused":
        raise InvalidInputError(
            _("{model_name}'s chat template refused a conversation: {said}").format(model_name=model_name, said=said)
        )
    reasons = {
        "timeout": f"did not finish within {seconds:.0f} s",
        "too_long": "wrote far more text than the conversation holds",
        "memory": "asked for more memory than a conversation needs",
        "sandbox": f"tried something the template sandbox forbids ({said})",
    }
    raise UnsafeModelError(
        _("{model_name}'s chat template {reasons}, so it is refused.").format(
            model_name=model_name, reasons=reasons.get(kind, f"failed ({said})")
        ),
        _("Pick another chat model."),
    )


def system_in_first_turn(messages: Messages) -> Messages | None:
    """The conversation with its system message joined to the first user message (None without one).

    Gemma's templates refuse a system role; their model cards put the system text here, before the
    first user message. :func:`render_chats` folds it so for every caller (the chat demo, chat
    tuning), so a tuned model is trained on the very prompts the demo sends it.
    """
    if len(messages) < 2 or messages[0]["role"] != "system" or messages[1]["role"] != "user":
        return None
    system, first, *rest = messages
    return [{"role": "user", "content": f"{system['content']}\n\n{first['content']}"}, *rest]


def render_chat(
    tokenizer: Any, messages: Messages, generation_prompt: bool = False, model_name: str = "The model"
) -> str:
    """One conversation rendered as :func:`render_chats` does."""
    return render_chats(tokenizer, [messages], generation_prompt, model_name)[0]


# --- the helper process ---------------------------------------------------------------------------


class _Stop(BaseException):  # not an Exception: nothing in Jinja may catch or rewrap it
    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message)
        self.kind = kind


def _on_alarm(_signum: int, _frame: object) -> None:
    raise _Stop("timeout")


def _render_one(compiled: Any, messages: Messages, prompt: bool, variables: dict[str, str]) -> str:
    cap = output_cap(messages)
    pieces: list[str] = []
    written = 0
    chat = [{k: v for k, v in m.items() if v is not None} for m in messages]
    for piece in compiled.generate(
        messages=chat, tools=None, documents=None, add_generation_prompt=prompt, **variables
    ):
        written += len(piece)
        if written > cap:
            raise _Stop("too_long")
        pieces.append(piece)
    return "".join(pieces)


def _serve(request: dict[str, Any]) -> dict[str, Any]:
    from jinja2.exceptions import SecurityError, TemplateError
    from transformers.utils.chat_template_utils import _compile_jinja_template

    signal.setitimer(signal.ITIMER_REAL, float(request["seconds"]))
    try:
        compiled = _compile_jinja_template(request["template"])
        variables = request["variables"]
        rendered = [
            _render_one(compiled, messages, bool(prompt), variables)
            for messages, prompt in zip(request["conversations"], request["prompts"], strict=True)
        ]
        return {"rendered": rendered}
    except _Stop as stop:
        return {"error": stop.kind}
    except MemoryError:
        return {"error": "memory"}
    except SecurityError as error:
        return {"error": "sandbox", "message": str(error)[:200]}
    except TemplateError as error:
        return {"error": "refused", "message": str(error)[:500]}
    except Exception as error:  # noqa: BLE001 - any failure of the template is reported, the helper lives on
        return {"error": "failed", "message": f"{type(error).__name__}: {str(error)[:300]}"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _limit_memory() -> None:
    with open("/proc/self/statm", encoding="ascii") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    limit = size + _HELPER_HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    """Answer one JSON request per line on stdin with one JSON line on stdout, until stdin ends."""
    from transformers.utils import chat_template_utils  # noqa: F401 - imported before the memory limit

    signal.signal(signal.SIGALRM, _on_alarm)
    # Without /proc (not Linux) there is no memory limit; the caller's deadline still holds.
    with contextlib.suppress(OSError, ValueError):
        _limit_memory()
    for line in sys.stdin.buffer:
        try:
            answer = _serve(json.loads(line))
        except MemoryError:
            answer = {"error": "memory"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
