"""What every demo run reports under its answer: device, model, latency and amount of work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from backend.model_registry import display_name
from backend.models.engines.compact_decoder import DecodeLoop
from backend.models.loader import LoadedModel
from backend.records import JsonRecord


@dataclass(frozen=True)
class RunFooter(JsonRecord):
    """One run's cost, shown under the answer.

    ``items`` counts what was processed, each one a ``unit`` (singular: text, sentence, image,
    reply, prompt); ``tokens`` is the number of tokens the model read or wrote (0 for images).
    """

    device: str
    model: str
    latency_ms: float
    items: int
    unit: str
    tokens: int = 0
    # How the model runs, where the ``auto`` engine setting checked it ("" otherwise).
    path_note: str = ""


class Stopwatch:
    """Wall-clock milliseconds since ``start`` (the UI reports these, tests never assert them)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self.elapsed_ms = 0.0

    def stop(self) -> float:
        """Freeze and return the elapsed milliseconds."""
        self.elapsed_ms = (time.perf_counter() - self._started) * 1000
        return self.elapsed_ms


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    """Time a block: ``with stopwatch() as watch: ...`` then read ``watch.elapsed_ms``."""
    watch = Stopwatch()
    try:
        yield watch
    finally:
        watch.stop()


def make_footer(loaded: LoadedModel, latency_ms: float, items: int, unit: str, tokens: int = 0) -> RunFooter:
    """The footer of a run of ``loaded``; where an engine's process failed during the run, its
    note (the answer came from torch, and why) follows the path's."""
    model = getattr(loaded, "model", None)  # an endpoint's model has none in this process
    take_note = getattr(model, "take_note", None)
    # A chat decode loop's note belongs to its reply, which text_generation reads itself.
    engine_note = take_note() if callable(take_note) and not isinstance(model, DecodeLoop) else ""
    path_note = getattr(loaded, "path_note", "")  # an endpoint's model runs on its server, unchecked
    shown_name = getattr(loaded, "shown_name", "") or display_name(loaded.model_ref)
    if isinstance(loaded, LoadedModel):
        loaded.shown_name = shown_name
    return RunFooter(
        device=loaded.device.name,
        model=shown_name,
        latency_ms=round(latency_ms, 1),
        items=items,
        unit=unit,
        tokens=tokens,
        path_note=" ".join(note for note in (path_note, engine_note) if note),
    )
