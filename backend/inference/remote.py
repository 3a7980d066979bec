"""Requests to an OpenAI-compatible inference server (see ``backend.models.resolve.endpoints``).

The ``openai`` client does the HTTP: streaming, retries with backoff (``max_retries``, honouring
``Retry-After`` on 429 and 503), timeouts, and typed errors, which ``explained`` turns into
messages: the main text for the person at the screen, the settings to check in ``detail`` for
whoever runs the server. The server's base URL and API key are never put in a message; the log
gets the URL (without any user:password part) for the operator.

Token counts are the server's own (``stream_options={"include_usage": True}``); a server that
sends none gets the number of streamed pieces as the reply's count and 0 for the prompt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from backend.errors import EndpointError, InvalidInputError, ShowcaseError
from backend.i18n import _
from backend.inference.chat_prompt import ChatMessage, check_messages
from backend.inference.footer import Stopwatch
from backend.models.resolve.endpoints import RemoteModel
from backend.text_safety import plain_markdown

_log = logging.getLogger(__name__)
# Older turns are left out past this many characters (about 4-8k tokens): the server would
# refuse the whole conversation otherwise, and the app cannot count its tokens.
MAX_CONVERSATION_CHARS = 24_000
_SERVER_TEXT_CHARS = 300


def _where(remote: RemoteModel) -> str:
    return f"`[showcase.endpoints.{remote.endpoint.name}]` (or LSM_ENDPOINTS)"


def _server_text(error: Exception) -> str:
    """What the server said, short and escaped: it may quote the user's text back."""
    body = getattr(error, "body", None)
    text = body.get("message") or body.get("detail") or body if isinstance(body, dict) else body or ""
    return plain_markdown(str(text)[:_SERVER_TEXT_CHARS])


def _error_table(openai: Any) -> tuple[tuple[Callable[[Exception], bool], str, str, str], ...]:
    """(which errors, what the person at the screen reads, what they can do, what the operator
    checks), first match wins; ``{name}``, ``{where}``, ``{retries}``, ``{timeout}``, ``{kind}``,
    ``{status}`` and ``{server}`` are filled in by ``_explain``."""

    def named(word: str, *classes: type) -> Callable[[Exception], bool]:
        # Transports other than the client's own (httpx, a proxy) raise their own timeout/connect types.
        return lambda error: isinstance(error, classes) or word in type(error).__name__.lower()

    def one_of(*classes: type) -> Callable[[Exception], bool]:
        return lambda error: isinstance(error, classes)

    return (
        (
            named("timeout", openai.APITimeoutError),
            "The model server {name} did not answer within {timeout} seconds.",
            "It may be busy: try again, ask for fewer new tokens, or pick an in-app model.",
            "Requests timed out ({retries} retries). Check the server's load, or raise `timeout_s` in {where}.",
        ),
        (
            named("connect", openai.APIConnectionError),
            "The model server {name} cannot be reached.",
            "Try again in a minute, or pick an in-app model.",
            "No connection to the server after {retries} retries ({kind}). Check that it is "
            "running and reachable from this machine at the `base_url` of {where}.",
        ),
        (
            one_of(openai.AuthenticationError, openai.PermissionDeniedError),
            "The model server {name} refused this app's credentials.",
            "This is a setting on the server's side; pick an in-app model meanwhile.",
            "The server answered {status}: check `api_key` in {where} against the server's key.",
        ),
        (
            one_of(openai.RateLimitError),
            "The model server {name} is busy: too many requests right now.",
            "Wait a few seconds and try again.",
            "The server answered 429 after {retries} retries. Raise its rate limit, or lower "
            "`max_concurrency` (batch jobs) or raise `max_retries` in {where}.",
        ),
        (
            one_of(openai.NotFoundError),
            "The model server {name} does not serve the model it is configured with.",
            "Pick another model.",
            "The server answered 404 for the configured model: check `model` and "
            "`base_url` (usually ending in /v1) in {where}. Server: {server}",
        ),
        (
            one_of(openai.BadRequestError, openai.UnprocessableEntityError),
            "The model server {name} refused the request.",
            "Shorten the conversation (clear it) or ask for fewer new tokens.",
            "The server answered {status}: {server}",
        ),
        (
            one_of(openai.APIStatusError),
            "The model server {name} failed (HTTP {status}).",
            "Try again, or pick an in-app model.",
            "See the server's log. Server: {server}",
        ),
        (
            lambda _error: True,
            "The model server {name} sent an answer this app could not read ({kind}).",
            "Try again, or pick an in-app model.",
            "Check that the server at the `base_url` of {where} speaks the OpenAI API.",
        ),
    )


def _explain(error: Exception, remote: RemoteModel) -> ShowcaseError:
    import openai

    facts = {
        "name": remote.endpoint.name,
        "where": _where(remote),
        "retries": remote.endpoint.max_retries,
        "timeout": f"{remote.endpoint.timeout_s:g}",
        "kind": type(error).__name__,
        "status": getattr(error, "status_code", ""),
        "server": _server_text(error),
    }
    for matches, message, advice, detail in _error_table(openai):
        if matches(error):
            return EndpointError(message.format(**facts), advice, detail.format(**facts))
    raise AssertionError("the table's last row matches every error")


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


@contextmanager
def explained(remote: RemoteModel) -> Iterator[None]:
    """Turn the client's errors inside into ``EndpointError`` (ShowcaseErrors pass through)."""
    try:
        yield
    except ShowcaseError:
        raise
    except Exception as error:  # noqa: BLE001 - every client failure becomes a message
        translated = _explain(error, remote)
        _log.warning(
            "Endpoint %s (%s, model %s): %s: %s",
            remote.endpoint.name,
            _safe_url(remote.endpoint.base_url),
            remote.endpoint.model,
            type(error).__name__,
            translated.message,
        )
        raise translated from None


def _sampling(temperature: float, top_p: float) -> dict[str, float]:
    # Temperature 0 is greedy decoding on every OpenAI-compatible server; top-p means nothing then.
    return {"temperature": 0.0} if temperature == 0 else {"temperature": temperature, "top_p": top_p}


def _fitted(messages: Sequence[ChatMessage]) -> tuple[list[dict[str, str]], int]:
    """The checked conversation as the API takes it, oldest turns (never the system message nor
    the last one) left out until it fits ``MAX_CONVERSATION_CHARS``; and how many were left out."""
    checked = check_messages(messages)
    system = [m for m in checked[:1] if m.role == "system"]
    turns = checked[len(system) :]
    dropped = 0
    while len(turns) > 1 and sum(len(m.content) for m in system + turns) > MAX_CONVERSATION_CHARS:
        turns = turns[1:]
        dropped += 1
    return [m.to_dict() for m in system + turns], dropped


class ChatStream:
    """A reply streamed from the server; iterate for text. When the iteration ends (or is left
    early, or ``stop_event`` is set), the response is closed, so the server stops generating,
    and ``text``, ``prompt_tokens``, ``new_tokens``, ``seconds``, ``first_token_ms``, ``stopped``
    ``dropped_messages`` and ``reached_limit`` (the server cut the reply at ``max_tokens``) hold
    what happened."""

    def __init__(
        self,
        remote: RemoteModel,
        messages: Sequence[ChatMessage],
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        stop_event: threading.Event,
    ) -> None:
        self.remote = remote
        self._messages, self.dropped_messages = _fitted(messages)
        self._options = {"max_tokens": max_new_tokens, **_sampling(temperature, top_p)}
        self.stop_event = stop_event
        self.text = ""
        self.prompt_tokens = 0
        self.new_tokens = 0
        self.seconds = 0.0
        self.first_token_ms = 0.0
        self.stopped = False
        self.reached_limit = False

    def __iter__(self) -> Iterator[str]:
        watch = Stopwatch()
        pieces: list[str] = []
        usage = None
        with explained(self.remote):
            response = self.remote.client.chat.completions.create(
                model=self.remote.endpoint.model,
                messages=self._messages,
                stream=True,
                stream_options={"include_usage": True},
                **self._options,
            )
        finished = False
        try:
            with explained(self.remote):
                for chunk in response:
                    # The usage comes on the last chunk, alone or with the final choice.
                    usage = chunk.usage or usage
                    for choice in chunk.choices:
                        piece = choice.delta.content if choice.delta else None
                        if piece:
                            if not pieces:
                                self.first_token_ms = round(watch.stop(), 1)
                            pieces.append(piece)
                            yield piece
                        self.reached_limit = self.reached_limit or choice.finish_reason == "length"
                    if self.stop_event.is_set():
                        self.stopped = True
                        break
            finished = True
        finally:
            # Closing the response is how a client stops an OpenAI-compatible server.
            response.close()
            if not finished:
                self.stop_event.set()
                self.stopped = True
            self.seconds = round(watch.stop() / 1000, 3)
            self.text = "".join(pieces)
            self.prompt_tokens = usage.prompt_tokens if usage else 0
            self.new_tokens = usage.completion_tokens if usage and not self.stopped else len(pieces)


@dataclass(frozen=True)
class Completion:
    """One non-streamed reply and the server's token counts."""

    prompt: str
    reply: str
    prompt_tokens: int
    new_tokens: int


def _complete(remote: RemoteModel, prompt: str, temperature: float, top_p: float, max_new_tokens: int) -> Completion:
    messages, _ = _fitted([ChatMessage("user", prompt)])
    with explained(remote):
        response = remote.client.chat.completions.create(
            model=remote.endpoint.model, messages=messages, max_tokens=max_new_tokens, **_sampling(temperature, top_p)
        )
    reply = response.choices[0].message.content if response.choices else ""
    usage = response.usage
    return Completion(
        prompt=prompt,
        reply=(reply or "").strip(),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        new_tokens=usage.completion_tokens if usage else 0,
    )


def complete_all(
    remote: RemoteModel,
    prompts: Sequence[str],
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[Completion]:
    """Answer every prompt, at most ``endpoint.max_concurrency`` requests at a time (the server
    batches them itself), in the prompts' order.

    ``progress(done, total)`` runs in the calling thread after each answer; if it raises (a
    cancelled job), no further request is sent and the error propagates.

    Raises:
        InvalidInputError: no prompts.
        EndpointError: the first request that failed, in words.
    """
    if not prompts:
        raise InvalidInputError(_("There is no prompt to answer."))
    results: list[Completion | None] = [None] * len(prompts)
    pending: dict[Future, int] = {}
    queue = iter(enumerate(prompts))
    done = 0
    with ThreadPoolExecutor(remote.endpoint.max_concurrency, thread_name_prefix="endpoint") as pool:

        def submit_next() -> None:
            for index, prompt in queue:
                pending[pool.submit(_complete, remote, prompt, temperature, top_p, max_new_tokens)] = index
                return

        # Submitting only as many as may run keeps a cancel from leaving hundreds queued.
        for _ in range(remote.endpoint.max_concurrency):
            submit_next()
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[pending.pop(future)] = future.result()
                    done += 1
                    if progress is not None:
                        progress(done, len(prompts))
                    submit_next()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return [result for result in results if result is not None]


def embed(remote: RemoteModel, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts`` from the server's ``/v1/embeddings``.

    Raises:
        EndpointError: the server failed or answered with the wrong number of vectors.
    """
    rows: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        part = texts[start : start + batch_size]
        with explained(remote):
            response = remote.client.embeddings.create(model=remote.endpoint.model, input=part)
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(part):
            raise EndpointError(
                _("The model server {name} returned {data} embeddings for {part} texts.").format(
                    name=remote.endpoint.name, data=len(data), part=len(part)
                ),
                _("Try again, or pick an in-app model."),
            )
        rows.extend(item.embedding for item in data)
    vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)
