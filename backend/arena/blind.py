"""A blind comparison from prompt to vote: two hidden models drawn at random, both replies streamed
at once, the pair stored before and after they answer, and the models named only after the vote.

The pair is stored before any model runs, so a refresh mid-reply finds it (the page keeps its id
in the address) and lets both models answer again; a model that fails mid-reply ends the pair as
failed, with a message that names neither model, and the votes already given stay as they are.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from backend.arena.store import VOTED, ArenaStore, BlindPair
from backend.errors import InvalidInputError, ShowcaseError
from backend.i18n import _
from backend.inference.screen_updates import StreamOutcome, stream_together

# The arena's task names (what votes and leaderboards are filed under), by the demo they come from.
CHAT = "chat"
SIDES = ("A", "B")
_log = logging.getLogger(__name__)


def draw_models(candidates: Sequence[str], rng: random.Random | None = None) -> tuple[str, str]:
    """Two different models in random order (which one is A is random too).

    Raises:
        InvalidInputError: fewer than two different models can answer here.
    """
    distinct = sorted(set(candidates))
    if len(distinct) < 2:
        raise InvalidInputError(
            _("A blind comparison needs two models that can answer here; {count} can.").format(count=len(distinct)),
            _("Download another chat model on the Models page, fine-tune one, or configure a model server."),
        )
    first, second = (rng or random.SystemRandom()).sample(distinct, 2)
    return first, second


def open_pair(
    store: ArenaStore,
    owner: str,
    task: str,
    prompt: str,
    candidates: Sequence[str],
    settings: dict[str, Any],
    rng: random.Random | None = None,
) -> str:
    """Draw two hidden models for ``prompt`` and store the pair; returns its id."""
    model_a, model_b = draw_models(candidates, rng)
    return store.open_pair(owner, task, prompt, model_a, model_b, settings)


# Given a side ("A" or "B") and the hidden model's reference, a stream of its reply's text.
StartStream = Callable[[str, str], Iterable[str]]


def answer_pair(
    store: ArenaStore,
    pair_id: str,
    owner: str,
    start_stream: StartStream,
    on_text: Callable[[int, str], None],
) -> BlindPair:
    """Let both hidden models answer the pair's prompt at once and store their replies.

    Args:
        start_stream: given a side and the hidden model's reference, a stream of its reply's text
            (waits are to be shown by side only); raises ``ShowcaseError`` when the model cannot
            start (not downloaded, out of memory...).
        on_text: called with the side (0 for A, 1 for B) and its text so far, for the page to draw.

    Returns:
        The pair as the page may show it: ready to judge, or failed with a message naming only the side.
    """
    opened = store.pair(pair_id, owner)
    if opened is not None and opened.state == VOTED:
        raise InvalidInputError(_("This comparison was already judged; your first vote counts."))
    store.restart_pair(pair_id, owner)
    models = store.models_to_answer(pair_id, owner)
    streams: list[Iterable[str]] = []
    failed: list[str] = []
    for side, model in zip(SIDES, models, strict=True):
        try:
            streams.append(start_stream(side, model))
        except ShowcaseError as error:
            # The model's own message may name it (a download, a server): the page says only which
            # side, and the log keeps the reason for whoever runs the server.
            _log.warning("Arena model %s (side %s) could not start: %s", model, side, error.user_text())
            failed.append(side)
            streams.append(())
    outcomes = stream_together(streams, on_text) if not failed else [StreamOutcome() for _ in models]
    for side, model, outcome in zip(SIDES, models, outcomes, strict=True):
        if outcome.error is not None:
            _log.warning("Arena model %s (side %s) failed mid-reply: %s", model, side, outcome.error.user_text())
            failed.append(side)
    error = ""
    if failed:
        error = _("Model {sides} could not finish its reply, so this pair cannot be judged.").format(
            sides=" & ".join(sorted(set(failed)))
        )
    store.save_replies(pair_id, owner, outcomes[0].text, outcomes[1].text, error)
    pair = store.pair(pair_id, owner)
    if pair is None:
        raise InvalidInputError(_("This comparison is no longer here."), _("Start a new one."))
    return pair
