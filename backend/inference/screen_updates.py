"""Fewer screen updates than tokens: a streamed reply's text, batched for the browser.

Every screen update re-sends the whole reply so far and the browser re-renders it as Markdown, so
drawing once per token costs time that grows with the reply's length, on the server (the page's
thread competes with the generating one for two cores and the GIL) and in the browser. A few
updates a second look the same to a reader. Nothing is lost: the first text is shown at once, the
last update always carries the whole reply, and ``text`` holds everything received so far, for a
reply cut short by a Stop click.

``TextHandoff`` lets a reply generated in this process hand its text over at those drawing times
only, so the drawing thread does not wake for every token (``ReplyStream.paced``).
``stream_together`` draws several replies at once (compare, the blind arena, "Compare with base"),
each at the same pace, one failing alone.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from backend.errors import ShowcaseError

# Four updates a second read as continuous writing; more cost time without showing more.
DEFAULT_INTERVAL_SECONDS = 0.25


class ScreenUpdates:
    """Iterate for the text to draw: the reply so far, at most once per ``interval`` seconds.

    The first non-empty chunk is drawn at once (time to first token is what a user notices), then
    a chunk that arrives less than ``interval`` after the last drawing waits for the next chunk
    after it, and the end of the stream draws whatever is left.
    """

    def __init__(
        self,
        chunks: Iterable[str],
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval must not be negative; got {interval}")
        self._chunks = chunks
        self._interval = interval
        self._clock = clock
        self._pieces: list[str] = []
        self.updates = 0

    @property
    def text(self) -> str:
        """Everything received so far, drawn or not."""
        return "".join(self._pieces)

    def __iter__(self) -> Iterator[str]:
        drawn_at: float | None = None
        drawn_count = 0
        for chunk in self._chunks:
            if not chunk:
                continue
            self._pieces.append(chunk)
            now = self._clock()
            if drawn_at is None or now - drawn_at >= self._interval:
                drawn_at, drawn_count = now, len(self._pieces)
                self.updates += 1
                yield self.text
        if len(self._pieces) > drawn_count:
            self.updates += 1
            yield self.text


class TextHandoff:
    """Text passed from a generating thread to a drawing thread, which sleeps until it needs it.

    A ``queue.Queue`` wakes its reader for every chunk: on a busy or single-CPU server that is a
    thread switch (and a GIL handoff) away from the generating thread per token, for text the page
    will not draw until its next drawing time anyway. Here the writer only appends, and wakes the
    reader only when it is waiting for the first text after a drawing time has passed, or for the
    end, which therefore is drawn at once.
    """

    def __init__(self, timeout: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout = timeout
        self.clock = clock
        self._ready = threading.Condition()
        self._pieces: deque[str] = deque()
        self._ended = False
        self._reader_waits_for_text = False

    def put(self, text: str) -> None:
        """Add text (writer's side); empty text is ignored."""
        if not text:
            return
        with self._ready:
            self._pieces.append(text)
            if self._reader_waits_for_text:
                self._ready.notify()

    def end(self) -> None:
        """No more text will come (writer's side); wakes the reader at once."""
        with self._ready:
            self._ended = True
            self._ready.notify()

    def take(self, not_before: float | None = None) -> str | None:
        """The next piece of text, as a queue gives it (``not_before`` None); or everything put
        since the last take, once there is some and the clock has reached ``not_before`` (the end
        cuts that wait short). None after the end, when nothing is left.

        Raises:
            TimeoutError: no text and no end came within the timeout, counted from the time the
                reader began waiting for text.
        """
        with self._ready:
            while True:
                now = self.clock()
                if self._pieces and (self._ended or not_before is None or now >= not_before):
                    if not_before is None:
                        return self._pieces.popleft()
                    text = "".join(self._pieces)
                    self._pieces.clear()
                    return text
                if self._ended:
                    return None
                if not_before is not None and now < not_before:
                    # Too early to draw: sleep until then (only the end wakes this thread sooner).
                    self._ready.wait(not_before - now)
                    continue
                self._reader_waits_for_text = True
                try:
                    if not self._ready.wait(self._timeout) and not (self._pieces or self._ended):
                        raise TimeoutError(f"no text for {self._timeout} s")
                finally:
                    self._reader_waits_for_text = False


@dataclass
class StreamOutcome:
    """One of several streams: its text so far, whether it ended, and the error that stopped it."""

    text: str = ""
    error: ShowcaseError | None = None
    finished: bool = False


def stream_together(
    streams: Sequence[Iterable[str]],
    on_text: Callable[[int, str], None],
    interval: float = DEFAULT_INTERVAL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> list[StreamOutcome]:
    """Take a chunk of each stream in turn until all end, calling ``on_text(index, text so far)``
    for each stream's first text, then at most once per ``interval`` seconds, and at its end.

    The models generate at the same time in their own threads, so this only interleaves their
    output. A stream that raises ``ShowcaseError`` ends alone with its text so far and the error;
    the others go on.
    """
    outcomes = [StreamOutcome() for _ in streams]
    iterators: list[Iterator[str]] = [iter(stream) for stream in streams]
    drawn_at: list[float | None] = [None for _ in streams]
    shown = ["" for _ in streams]
    active = list(range(len(iterators)))

    def draw(index: int) -> None:
        if outcomes[index].text != shown[index]:
            on_text(index, outcomes[index].text)
            shown[index] = outcomes[index].text
            drawn_at[index] = clock()

    while active:
        for index in list(active):
            try:
                outcomes[index].text += next(iterators[index])
            except StopIteration:
                outcomes[index].finished = True
            except ShowcaseError as error:
                outcomes[index].error = error
            else:
                last = drawn_at[index]
                if last is None or clock() - last >= interval:
                    draw(index)
                continue
            active.remove(index)
            draw(index)
    return outcomes
