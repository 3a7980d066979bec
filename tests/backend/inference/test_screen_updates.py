"""Batched screen updates of a streamed reply: first text at once, a few updates a second, nothing lost."""

import pytest

from backend.inference.screen_updates import ScreenUpdates


class _Clock:
    """A clock the test moves: each chunk of the stream advances it by ``step`` seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _ticking(chunks, clock, step):
    for chunk in chunks:
        clock.now += step
        yield chunk


def test_forty_tokens_a_second_draw_about_four_times_a_second_and_end_with_everything():
    clock = _Clock()
    chunks = [f"w{i} " for i in range(40)]  # one second of tokens at 40 per second
    updates = ScreenUpdates(_ticking(chunks, clock, 0.025), interval=0.25, clock=clock)
    drawn = list(updates)
    assert drawn[0] == "w0 "  # the first token is not held back
    assert drawn[-1] == "".join(chunks)
    assert 4 <= len(drawn) <= 6
    assert all(later.startswith(earlier) for earlier, later in zip(drawn, drawn[1:], strict=False))
    assert updates.updates == len(drawn)


def test_slow_tokens_are_each_drawn_and_empty_chunks_ignored():
    clock = _Clock()
    updates = ScreenUpdates(_ticking(["a", "", "b", "c"], clock, 1.0), interval=0.25, clock=clock)
    assert list(updates) == ["a", "ab", "abc"]


def test_text_holds_what_arrived_even_when_the_stream_is_cut_before_a_drawing():
    clock = _Clock()

    def cut():
        yield from _ticking(["Partial", " answer", " that"], clock, 0.01)
        raise KeyboardInterrupt  # what a Stop click's exception looks like from here

    updates = ScreenUpdates(cut(), interval=0.25, clock=clock)
    drawn = []
    with pytest.raises(KeyboardInterrupt):
        for text in updates:
            drawn.append(text)
    assert drawn == ["Partial"]
    assert updates.text == "Partial answer that"


def test_no_chunks_draw_nothing_and_a_negative_interval_is_refused():
    assert list(ScreenUpdates(iter([]))) == []
    with pytest.raises(ValueError, match="negative"):
        ScreenUpdates([], interval=-1)
