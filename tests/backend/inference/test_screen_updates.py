"""Batched screen updates of a streamed reply: first text at once, a few updates a second, nothing lost."""

import threading
import time

import pytest

from backend.errors import ShowcaseError
from backend.inference.screen_updates import ScreenUpdates, TextHandoff, stream_together


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


# TextHandoff: the generating thread's text reaches the drawing thread at drawing times only.


def _write_later(handoff, pieces, gap, end=True):
    """Put ``pieces`` from another thread, ``gap`` seconds apart, then end the stream."""

    def write():
        for piece in pieces:
            time.sleep(gap)
            handoff.put(piece)
        if end:
            handoff.end()

    writer = threading.Thread(target=write)
    writer.start()
    return writer


def test_handoff_without_a_drawing_time_gives_each_piece_like_a_queue():
    handoff = TextHandoff()
    for piece in ["a", "", "b", "c"]:
        handoff.put(piece)
    handoff.end()
    assert [handoff.take(), handoff.take(), handoff.take(), handoff.take()] == ["a", "b", "c", None]


def test_handoff_holds_text_until_the_drawing_time_and_gives_it_in_one_piece():
    handoff = TextHandoff()
    writer = _write_later(handoff, [f"w{i} " for i in range(20)], 0.005, end=False)
    first = handoff.take(0.0)  # the first text is handed over at once
    started = time.monotonic()
    rest = handoff.take(started + 0.3)
    waited = time.monotonic() - started
    writer.join()
    handoff.end()
    tail = handoff.take(time.monotonic() + 60)
    assert waited >= 0.29  # every piece that came meanwhile waited for the drawing time
    assert first + rest + (tail or "") == "".join(f"w{i} " for i in range(20))
    assert len(rest) > len(first)


def test_the_end_of_the_stream_cuts_the_wait_for_the_drawing_time_short():
    handoff = TextHandoff()
    writer = _write_later(handoff, ["last words"], 0.05)
    started = time.monotonic()
    assert handoff.take(started + 60) == "last words"  # drawn at once, not a minute later
    assert time.monotonic() - started < 10
    assert handoff.take(0.0) is None
    writer.join()


def test_a_handoff_with_no_text_for_its_timeout_says_so():
    with pytest.raises(TimeoutError):
        TextHandoff(timeout=0.05).take(0.0)


def test_streams_together_draw_each_first_text_then_at_the_pace_and_always_the_end():
    drawn: list[tuple[int, str]] = []
    clock = _Clock()
    outcomes = stream_together(
        [_ticking(["a", "b", "c", "d"], clock, 0.1), _ticking(["x", "y"], clock, 0.1)],
        lambda index, text: drawn.append((index, text)),
        interval=0.25,
        clock=clock,
    )
    assert [outcome.text for outcome in outcomes] == ["abcd", "xy"]
    assert all(outcome.finished and outcome.error is None for outcome in outcomes)
    # Each stream's first text at once, its whole text at its end; fewer drawings than chunks.
    assert drawn[0] == (0, "a") and drawn[1] == (1, "x")
    assert (0, "abcd") in drawn and (1, "xy") in drawn
    assert len(drawn) < 6


def test_a_stream_that_fails_ends_alone_and_the_other_finishes():
    def failing():
        yield "par"
        raise ShowcaseError("server gone")

    drawn: dict[int, str] = {}
    outcomes = stream_together([iter(["a", "b", "c"]), failing()], drawn.__setitem__, interval=0)
    assert (outcomes[0].text, outcomes[0].finished, outcomes[0].error) == ("abc", True, None)
    assert outcomes[1].text == "par" and outcomes[1].error.message == "server gone"
    assert not outcomes[1].finished
    assert drawn == {0: "abc", 1: "par"}
