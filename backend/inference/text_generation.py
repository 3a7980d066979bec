"""Chat text generation: the model's chat template, streamed tokens, a stop switch, per-call options.

The model is shared by every session, so nothing here changes it: sampling options go into a fresh
``GenerationConfig`` per call, and every call has its own streamer, stop event and thread. A fast
tokenizer keeps truncation and padding as shared state that each call sets before encoding (and
older tokenizers releases refuse concurrent use with "Already borrowed"), so tokenizer calls,
including the streamer's decoding, take the model's lock; the forward passes do not, so two users
generate at the same time.

Streaming (the chat page)::

    stream = text_generation.stream_reply(loaded, messages, options, stop_event)
    for chunk in stream: ...           # text as it is produced
    for text in stream.paced(0.25): ...  # or at most 4 times a second, this thread asleep between
    stream.result                      # GenerationResult: tokens, tokens/s, stopped...

Batch use (benchmarks)::

    replies = text_generation.generate(loaded, ["Hi", "你好"], GenerationOptions(temperature=0), batch_size=4)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList, TextStreamer

from backend.errors import InsufficientMemoryError, InvalidInputError, ShowcaseError
from backend.i18n import _, ngettext
from backend.inference import remote, tables
from backend.inference.batching import ProgressCallback, check_batch_size, run_sorted
from backend.inference.chat_prompt import (
    MAX_MESSAGE_CHARS,
    ChatMessage,
    PreparedPrompt,
    encode_prompts,
    prepare_prompt,
)
from backend.inference.footer import RunFooter, Stopwatch, make_footer, stopwatch
from backend.inference.screen_updates import TextHandoff
from backend.models.engines import openmp
from backend.models.loader import LoadedModel
from backend.models.memory import is_out_of_memory
from backend.models.resolve.endpoints import RemoteModel
from backend.records import JsonRecord

__all__ = [
    "ChatMessage",
    "GenerationOptions",
    "GenerationResult",
    "ReplyStream",
    "generate",
    "generate_table",
    "stream_reply",
]

MAX_NEW_TOKENS = 1024
DEFAULT_BATCH_SIZE = 4
# Every row is a full reply, seconds each on a CPU, and a table is one job that should end in minutes.
MAX_TABLE_ROWS = 100
# How long the page waits for the next token before deciding generation died.
_TOKEN_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class GenerationOptions(JsonRecord):
    """Per-call sampling options. ``temperature`` 0 means greedy (deterministic) decoding."""

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 256

    @property
    def greedy(self) -> bool:
        """Whether decoding picks the most probable token every step."""
        return self.temperature == 0

    def checked(self) -> GenerationOptions:
        """These options, or InvalidInputError saying which one is out of range."""
        if not 0 <= self.temperature <= 2:
            raise InvalidInputError(
                _("Temperature must be between 0 and 2; got {temperature}.").format(temperature=self.temperature)
            )
        if not 0 < self.top_p <= 1:
            raise InvalidInputError(_("Top-p must be above 0 and at most 1; got {top_p}.").format(top_p=self.top_p))
        if not isinstance(self.max_new_tokens, int) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise InvalidInputError(
                _("Max new tokens must be from 1 to {MAX_NEW_TOKENS}; got {max_new_tokens}.").format(
                    MAX_NEW_TOKENS=MAX_NEW_TOKENS, max_new_tokens=self.max_new_tokens
                )
            )
        return self


@dataclass(frozen=True)
class GenerationResult(JsonRecord):
    """One finished (or stopped) reply and what it cost."""

    json_properties = ("tokens_per_second", "notice", "limit_note")

    text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float
    first_token_ms: float
    stopped: bool
    dropped_messages: int
    truncated_message: bool
    footer: RunFooter
    # How the reply ran, where the user should know (an engine that failed and torch finished it).
    engine_note: str = ""
    # The max-new-tokens limit the reply was cut at, mid-sentence as likely as not (0 when the
    # model ended its turn itself or Stop was pressed).
    token_limit: int = 0
    # Whether that limit was the room left in the model's context, short of max new tokens.
    limit_is_context: bool = False

    @property
    def tokens_per_second(self) -> float:
        """New tokens per second of generation."""
        return round(self.new_tokens / self.seconds, 1) if self.seconds > 0 else 0.0

    @property
    def notice(self) -> str:
        """What the user should know about the prompt ("" when nothing)."""
        parts = []
        if self.dropped_messages:
            parts.append(
                ngettext(
                    "The oldest message was left out to fit the model's context.",
                    "The {count} oldest messages were left out to fit the model's context.",
                    self.dropped_messages,
                ).format(count=self.dropped_messages)
            )
        if self.truncated_message:
            parts.append(_("Your message was too long for the model's context and was cut."))
        return " ".join(parts)

    @property
    def limit_note(self) -> str:
        """That the reply ends because it reached the token limit ("" when it did not)."""
        if not self.token_limit:
            return ""
        if self.limit_is_context:
            return _("Stopped at the end of the model's context, after {limit:,} new tokens.").format(
                limit=self.token_limit
            )
        return _("Stopped at the {limit:,}-token limit.").format(limit=self.token_limit)


def _ends_turn(token_id: int, config: GenerationConfig) -> bool:
    ends = config.eos_token_id
    return token_id in (ends if isinstance(ends, list | tuple) else [ends])


class _StopOnEvent(StoppingCriteria):
    """Stops every sequence once the event is set (the page's stop button sets it)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _LockedStreamer(TextStreamer):
    """A streamer whose decoding takes the model's tokenizer lock (see the module docstring), and
    whose text goes to a ``TextHandoff`` for the consuming thread."""

    def __init__(self, loaded: LoadedModel, handoff: TextHandoff) -> None:
        super().__init__(loaded.preprocessor, skip_prompt=True, skip_special_tokens=True)
        self._lock = loaded.lock
        self._handoff = handoff

    def put(self, value: torch.Tensor) -> None:
        with self._lock:
            super().put(value)

    def end(self) -> None:
        with self._lock:
            super().end()

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self._handoff.put(text)
        if stream_end:
            self._handoff.end()


def generation_config(loaded: LoadedModel, options: GenerationOptions, max_new_tokens: int):
    """A fresh config for one call: the model's defaults (stop tokens...) with this call's options."""
    config = copy.deepcopy(loaded.model.generation_config)
    config.max_new_tokens = max_new_tokens
    config.max_length = None
    config.num_beams = 1
    config.num_return_sequences = 1
    if options.greedy:
        config.do_sample = False
        config.temperature = None
        config.top_p = None
        config.top_k = None
    else:
        config.do_sample = True
        config.temperature = options.temperature
        config.top_p = options.top_p
    if config.pad_token_id is None:
        # Llama 3 has no pad token and lists several end tokens: padding takes the first of them.
        ends = config.eos_token_id
        first_end = ends[0] if isinstance(ends, list | tuple) and ends else ends
        pad = getattr(loaded.preprocessor, "pad_token_id", None)
        config.pad_token_id = pad if pad is not None else first_end
    return config


class ReplyStream:
    """A reply being generated in a background thread; iterate for text chunks.

    After the iteration ends, ``result`` holds the ``GenerationResult``. If the consumer stops
    iterating early (the page was rerun or closed), the stop event is set, so the thread does
    not keep generating for nobody.
    """

    def __init__(
        self, loaded: LoadedModel, prompt: PreparedPrompt, options: GenerationOptions, stop_event: threading.Event
    ) -> None:
        self.loaded = loaded
        self.prompt = prompt
        self.options = options
        self.stop_event = stop_event
        self.result: GenerationResult | None = None
        self._handoff = TextHandoff(_TOKEN_TIMEOUT_SECONDS)
        self._streamer = _LockedStreamer(loaded, self._handoff)
        self._new_tokens = 0
        self._reached_limit = False
        self._engine_note = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._generate, name="text-generation", daemon=True)

    def _generate(self) -> None:
        try:
            config = generation_config(self.loaded, self.options, self.prompt.max_new_tokens)
            output = self._run(config)
            self._new_tokens = int(output.shape[-1] - self.prompt.input_ids.shape[-1])
            # A reply whose last token is an end token ended its turn exactly at the limit.
            self._reached_limit = self._new_tokens >= config.max_new_tokens and not _ends_turn(
                int(output.reshape(-1)[-1]), config
            )
        except BaseException as error:  # noqa: BLE001 - re-raised in the consumer's thread
            self._error = error
            self._streamer.end()

    def _run(self, config: GenerationConfig) -> torch.Tensor:
        decoder = self.loaded.decoder
        if decoder is not None and decoder.runs(config, self.prompt.prompt_tokens):
            try:
                return decoder.generate(self.prompt.input_ids, config, self._streamer, self.stop_event)
            finally:
                self._engine_note = decoder.take_note()
        device = self.loaded.device.torch_device
        with torch.inference_mode():
            return self.loaded.model.generate(
                input_ids=self.prompt.input_ids.to(device),
                attention_mask=torch.ones_like(self.prompt.input_ids).to(device),
                generation_config=config,
                streamer=self._streamer,
                stopping_criteria=StoppingCriteriaList([_StopOnEvent(self.stop_event)]),
            )

    def __iter__(self) -> Iterator[str]:
        """Each piece of text as soon as it is decoded."""
        return self._chunks(None)

    def paced(self, every: float) -> Iterator[str]:
        """The new text at most once per ``every`` seconds, the first text and the end at once.

        Between those times the iterating thread sleeps: a page drawing a few times a second is not
        woken for every token, which on a busy server took CPU and the GIL from generation.
        """
        return self._chunks(every)

    def _chunks(self, every: float | None) -> Iterator[str]:
        watch = Stopwatch()
        first_token_ms = 0.0
        pieces: list[str] = []
        # This thread only waits from here on; its idle workers would slow the generating one.
        openmp.release_idle_workers()
        self._thread.start()
        finished = False
        next_at = None if every is None else 0.0
        try:
            while (chunk := self._handoff.take(next_at)) is not None:
                if not pieces:
                    first_token_ms = watch.stop()
                pieces.append(chunk)
                handed_at = self._handoff.clock()
                yield chunk
                if every is not None:
                    next_at = handed_at + every
            finished = True
        finally:
            if not finished:
                self.stop_event.set()
            self._thread.join()
        seconds = watch.stop() / 1000
        if self._error is not None:
            raise _as_user_error(self._error) from self._error
        self.result = GenerationResult(
            text="".join(pieces),
            prompt_tokens=self.prompt.prompt_tokens,
            new_tokens=self._new_tokens,
            seconds=round(seconds, 3),
            first_token_ms=round(first_token_ms, 1),
            stopped=self.stop_event.is_set(),
            dropped_messages=self.prompt.dropped_messages,
            truncated_message=self.prompt.truncated_message,
            footer=make_footer(self.loaded, seconds * 1000, 1, "reply", self._new_tokens),
            engine_note=self._engine_note,
            token_limit=self.prompt.max_new_tokens if self._reached_limit and not self.stop_event.is_set() else 0,
            limit_is_context=self.prompt.max_new_tokens < self.options.max_new_tokens,
        )


def _as_user_error(error: BaseException) -> ShowcaseError:
    if isinstance(error, ShowcaseError):
        return error
    if is_out_of_memory(error):
        return InsufficientMemoryError(
            _("The device ran out of memory while generating."), _("Lower max new tokens or clear the conversation.")
        )
    return ShowcaseError(
        _("Generation failed ({error}).").format(error=type(error).__name__), _("Try again or pick another model.")
    )


class RemoteReplyStream:
    """A reply streamed by an inference server (``backend.inference.remote``), used as a
    ``ReplyStream`` is: iterate for text; ``result`` is set when the iteration ends."""

    def __init__(
        self,
        loaded: RemoteModel,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        stop_event: threading.Event,
    ) -> None:
        self.loaded = loaded
        self.stop_event = stop_event
        self.options = options
        self.result: GenerationResult | None = None
        self._stream = remote.ChatStream(
            loaded, messages, options.temperature, options.top_p, options.max_new_tokens, stop_event
        )

    def __iter__(self) -> Iterator[str]:
        yield from self._stream
        reply = self._stream
        self.result = GenerationResult(
            text=reply.text,
            prompt_tokens=reply.prompt_tokens,
            new_tokens=reply.new_tokens,
            seconds=reply.seconds,
            first_token_ms=reply.first_token_ms,
            stopped=reply.stopped,
            dropped_messages=reply.dropped_messages,
            truncated_message=False,
            footer=make_footer(self.loaded, reply.seconds * 1000, 1, "reply", reply.new_tokens),
            token_limit=self.options.max_new_tokens if reply.reached_limit and not reply.stopped else 0,
        )


def stream_reply(
    loaded: LoadedModel | RemoteModel,
    messages: Sequence[ChatMessage],
    options: GenerationOptions,
    stop_event: threading.Event | None = None,
) -> ReplyStream | RemoteReplyStream:
    """Start a reply to the conversation ``messages``: to the user's last message, or, when the
    last is the assistant's reply cut short, the rest of that reply (the stream and its result
    hold only the new text; see ``chat_prompt.prepare_prompt``).

    Args:
        loaded: a causal language model whose tokenizer has a chat template.
        messages: the conversation so far, oldest first; older turns are dropped to fit.
        options: temperature (0 = greedy), top-p and max new tokens for this call only.
        stop_event: setting it stops generation after the current token.

    Returns:
        A ``ReplyStream``: iterate it for text; its ``result`` is set when iteration ends.

    Raises:
        InvalidInputError: empty or over-long messages, bad options, no chat template, a reply
            to continue on a model server (its API has no way to).
    """
    options = options.checked()
    if isinstance(loaded, RemoteModel):
        if [message.role for message in messages[-2:]] == ["user", "assistant"]:  # a reply to continue
            raise InvalidInputError(
                _("A reply from a model server cannot be continued: its API starts every reply afresh."),
                _("Press Regenerate to ask again."),
            )
        return RemoteReplyStream(loaded, messages, options, stop_event or threading.Event())
    with loaded.lock:
        prompt = prepare_prompt(loaded, messages, options.max_new_tokens)
    return ReplyStream(loaded, prompt, options, stop_event or threading.Event())


@dataclass(frozen=True)
class Generated(JsonRecord):
    """One batch-mode reply."""

    prompt: str
    reply: str
    prompt_tokens: int
    new_tokens: int


def _generate_batch(loaded: LoadedModel, prompts: list[str], options: GenerationOptions) -> list[Generated]:
    with loaded.lock:
        batch, max_new_tokens = encode_prompts(loaded, prompts, options.max_new_tokens)
    batch = {name: tensor.to(loaded.device.torch_device) for name, tensor in batch.items()}
    config = generation_config(loaded, options, max_new_tokens)
    with torch.inference_mode():
        output = loaded.model.generate(**batch, generation_config=config)
    prompt_length = batch["input_ids"].shape[-1]
    new = output[:, prompt_length:]
    with loaded.lock:
        replies = loaded.preprocessor.batch_decode(new, skip_special_tokens=True)
    special = set(getattr(loaded.preprocessor, "all_special_ids", []) or [])
    prompt_counts = batch["attention_mask"].sum(dim=-1).tolist()
    new_counts = [sum(int(t) not in special for t in row) for row in new.tolist()]
    return [
        Generated(prompt=p, reply=r.strip(), prompt_tokens=int(pc), new_tokens=nc)
        for p, r, pc, nc in zip(prompts, replies, prompt_counts, new_counts, strict=True)
    ]


def generate(
    loaded: LoadedModel | RemoteModel,
    prompts: Sequence[str],
    options: GenerationOptions,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> list[Generated]:
    """Reply to many single-turn prompts in length-sorted, left-padded batches.

    Args:
        loaded: a causal language model whose tokenizer has a chat template.
        prompts: one user message each.
        options: sampling options for every prompt.
        batch_size: prompts per ``generate`` call.
        progress: called with (done, total) after each batch.

    Raises:
        InvalidInputError: no prompts, an empty or over-long one, bad options.
    """
    options = options.checked()
    check_batch_size(batch_size)
    if not prompts:
        raise InvalidInputError(_("There is no prompt to answer."))
    if isinstance(loaded, RemoteModel):
        # The server batches concurrent requests itself; the endpoint bounds how many at once.
        done = remote.complete_all(
            loaded, prompts, options.temperature, options.top_p, options.max_new_tokens, progress
        )
        return [Generated(c.prompt, c.reply, c.prompt_tokens, c.new_tokens) for c in done]
    return run_sorted(
        list(prompts),
        [len(p) for p in prompts],
        batch_size,
        lambda batch: _generate_batch(loaded, batch, options),
        progress,
    )


def generate_table(
    loaded: LoadedModel | RemoteModel,
    frame: pd.DataFrame,
    column: str,
    options: GenerationOptions,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> tables.TableRun:
    """Batch mode: answer every row's ``column`` as a prompt and add ``reply`` and token columns.

    Raises:
        InvalidInputError: the column is missing or holds no text; bad options.
    """
    column_texts = tables.read_text_column(frame, column, MAX_MESSAGE_CHARS, MAX_TABLE_ROWS)
    with stopwatch() as watch:
        results = generate(loaded, column_texts.texts, options, batch_size, progress)
    table = tables.with_results(
        frame,
        column_texts,
        {"reply": [r.reply for r in results], "new_tokens": [r.new_tokens for r in results]},
    )
    tokens = sum(r.new_tokens for r in results)
    footer = make_footer(loaded, watch.elapsed_ms, len(results), "prompt", tokens)
    return tables.TableRun(table=table, footer=footer, skipped=len(column_texts.notes))
