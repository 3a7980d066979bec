"""Fewer screen updates than tokens: a streamed reply's text, batched for the browser.

Every screen update re-sends the whole reply so far and the browser re-renders it as Markdown, so
drawing once per token costs time that grows with the reply's length, on the server (the page's
thread competes with the generating one for two cores and the GIL) and in the browser. A few
updates a second look the same to a reader. Nothing is lost: the first text is shown at once, the
last update always carries the whole reply, and ``text`` holds everything received so far, for a
reply cut short by a Stop click.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

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
