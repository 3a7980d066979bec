"""The blind arena's widgets: the open pair (kept in the address, so a refresh finds it), both
hidden replies streamed at once, the four verdicts, the reveal, the leaderboard and the exports.

Nothing here names a model before the vote: waits and refusals say "Model A" or "Model B".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pandas as pd
import streamlit as st

from backend import model_registry, uploads
from backend.arena import blind, export
from backend.arena.leaderboard import MIN_VOTES_TO_RANK, build_leaderboard
from backend.arena.store import VERDICT_LABELS, VERDICTS, ArenaStore, BlindPair
from backend.config import get_settings
from backend.i18n import _, ngettext
from backend.inference import image_classification, sentiment, text_generation, translation
from backend.inference.text_generation import ChatMessage, GenerationOptions
from backend.models.resolve import catalogue
from backend.text_safety import plain_markdown, plain_markdown_lines
from pages.components import demo, models
from pages.components.errors import user_errors

# The address parameter that holds the open pair's id: it survives a refresh, session state does not.
PAIR_PARAMETER = "pair"
OPTIONS = GenerationOptions(temperature=0.7, top_p=0.9, max_new_tokens=256)
SYSTEM_PROMPT = "You are a helpful assistant. Answer in the language of the question."
_VERDICT_ICONS = {
    "a": ":material/arrow_back:",
    "b": ":material/arrow_forward:",
    "tie": ":material/drag_handle:",
    "both_bad": ":material/thumb_down:",
}


def candidates(arena_demo: str, direction: str = "") -> list[str]:
    """Every model of ``arena_demo`` that can answer here now: configured servers, downloaded or
    downloadable catalogue models that fit the model memory budget (of ``direction`` for
    translation), and this workspace's own models. (A drawn model that cannot load ends its pair
    unjudged, so one that never fits is never drawn.)"""
    task = blind.ARENA_DEMOS[arena_demo]
    budget = get_settings().model_memory_mb
    specs = [spec for spec in catalogue.models_for(task) if spec.memory_mb() <= budget]
    if direction:
        specs = [spec for spec in specs if "-".join(spec.language_pair) == direction]
    labels, found = demo.model_choices(task, specs)
    return [ref for ref in labels if ref not in found or found[ref].can_load]


def open_pair_id() -> str | None:
    """The id of the pair this tab is on (from the address), if any."""
    return st.query_params.get(PAIR_PARAMETER) or None


def start_pair(store: ArenaStore, owner: str, prompt: str, drawn_from: list[str], task: str) -> str:
    """Draw two hidden models for ``prompt``, store the pair and put its id in the address."""
    arena_demo, direction = blind.demo_of(task)
    if arena_demo == blind.CHAT:
        settings: dict[str, object] = {**OPTIONS.to_dict(), "system_prompt": SYSTEM_PROMPT}
    elif direction:
        source, target = direction.split("-")
        settings = {"source_language": source, "target_language": target}
    else:
        settings = {}
    pair_id = blind.open_pair(store, owner, task, prompt, drawn_from, settings)
    st.query_params[PAIR_PARAMETER] = pair_id
    return pair_id


def leave_pair() -> None:
    """Forget this tab's pair, so the next question draws a new one."""
    st.query_params.pop(PAIR_PARAMETER, None)


def skip_pair(store: ArenaStore, pair_id: str, owner: str) -> None:
    """Leave an unjudged pair uncounted: its models stop being hidden on the other pages."""
    store.skip_pair(pair_id, owner)
    leave_pair()


def answer(store: ArenaStore, pair_id: str, owner: str, prompt: str, task: str) -> BlindPair:
    """Both hidden models reply at once, each streamed under its letter (a classifier's label or a
    translation arrives whole); returns the stored pair."""
    left, right = st.columns(2)
    places = []
    for column, side in zip((left, right), blind.SIDES, strict=True):
        box = column.container(border=True)
        box.markdown(f"**{_('Model {side}').format(side=side)}**")
        places.append(box.empty())
    stop = threading.Event()
    messages = [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", prompt)]

    arena_demo, direction = blind.demo_of(task)

    def start(side: str, model_ref: str) -> Iterable[str]:
        shown_as = _("Model {side}").format(side=side)
        loaded = models.get_model(blind.ARENA_DEMOS[arena_demo], model_ref, shown_as=shown_as)
        if arena_demo == blind.CHAT:
            return text_generation.stream_reply(loaded, messages, OPTIONS, stop)
        if arena_demo == blind.SENTIMENT:
            found = sentiment.classify_text(loaded, prompt).classification
            return [_("{label} · {score:.0%}").format(label=found.label, score=found.score)]
        if arena_demo == blind.IMAGE:
            image = uploads.open_image(
                image_classification.read_sample(prompt), f"{prompt}.jpg", max_side=uploads.MODEL_IMAGE_SIDE
            )
            top = image_classification.classify_image(loaded, image, prompt).prediction.top[0]
            return [_("{label} · {score:.0%}").format(label=top.label, score=top.score)]
        source, target = direction.split("-")
        return [translation.translate_text(loaded, prompt, source, target).translation]

    return blind.answer_pair(
        store, pair_id, owner, start, lambda index, text: places[index].markdown(plain_markdown_lines(text))
    )


def show_replies(pair: BlindPair) -> None:
    """Both replies side by side under their letters."""
    for column, side, text in zip(st.columns(2), blind.SIDES, (pair.reply_a, pair.reply_b), strict=True):
        with column.container(border=True):
            st.markdown(f"**{_('Model {side}').format(side=side)}**")
            st.markdown(plain_markdown_lines(text) if text else _("_(no text)_"))


def show_verdicts(store: ArenaStore, pair: BlindPair, owner: str) -> None:
    """The four verdict buttons; a click stores the vote (the reveal follows on the rerun)."""
    row = st.columns(len(VERDICTS))
    for column, verdict in zip(row, VERDICTS, strict=True):
        if column.button(
            _(VERDICT_LABELS[verdict]),
            key=f"arena.vote.{verdict}",
            icon=_VERDICT_ICONS[verdict],
            width="stretch",
            type="primary" if verdict in ("a", "b") else "secondary",
        ):
            with user_errors():
                store.vote(pair.id, owner, verdict)
                st.rerun()


def show_reveal(store: ArenaStore, pair: BlindPair, owner: str) -> None:
    """Who A and B were, and the verdict given."""
    vote = store.vote_on(pair.id, owner)
    if vote is None:
        return
    name = model_registry.display_name
    st.success(
        plain_markdown(
            _("Your vote: {verdict}. Model A was {a}; model B was {b}.").format(
                verdict=_(VERDICT_LABELS[vote.verdict]), a=name(vote.model_a), b=name(vote.model_b)
            )
        ),
        icon=":material/visibility:",
    )


def show_leaderboard(store: ArenaStore, owner: str, task: str) -> None:
    """Bradley-Terry scores with 95% intervals, vote counts, and which models are not ranked yet."""
    votes = store.votes(owner, task)
    if not votes:
        st.info(
            _("No votes yet: ask a question on the Vote tab and judge the two replies."), icon=":material/leaderboard:"
        )
        return
    board = build_leaderboard(votes)
    ranked = [row for row in board if row.ranked]
    if not ranked:
        st.warning(
            _("Too few votes to rank: a model is ranked once it has {count} votes.").format(count=MIN_VOTES_TO_RANK),
            icon=":material/hourglass_empty:",
        )
    name = model_registry.display_name
    st.dataframe(
        pd.DataFrame(
            [
                {
                    _("Rank"): str(row.rank) if row.ranked else _("too few votes"),
                    _("Model"): name(row.model),
                    _("Score"): round(row.score),
                    # Resampling a handful of votes gives a falsely narrow interval: shown once ranked.
                    _("95% interval"): f"{row.low:.0f} – {row.high:.0f}" if row.ranked else "—",
                    _("Votes"): row.votes,
                    _("Won / lost / tied"): f"{row.wins} / {row.losses} / {row.ties}",
                }
                for row in board
            ]
        ),
        hide_index=True,
    )
    st.caption(
        ngettext("{votes:,} vote.", "{votes:,} votes.", len(votes)).format(votes=len(votes))
        + " "
        + _(
            "Bradley-Terry scores (Elo-like: 400 points = 10 to 1 odds), intervals from 1,000 bootstrap "
            "resamples of the votes; ties and both-bad count half a win each way. Models whose intervals "
            "overlap share a rank; a model needs {count} votes to be ranked."
        ).format(count=MIN_VOTES_TO_RANK)
    )


def show_exports(store: ArenaStore, owner: str, task: str) -> None:
    """Downloads: preference pairs for a trainer, every vote (of ``task``), every demo feedback."""
    votes = store.votes(owner, task)
    pairs = export.preference_pairs(votes)
    st.caption(
        _("{pairs:,} preference pairs from {votes:,} votes (ties and both-bad are left out).").format(
            pairs=len(pairs), votes=len(votes)
        )
    )
    downloads = (
        (_("Preference pairs (JSONL)"), export.to_jsonl(pairs), "arena-preferences.jsonl", "arena.export.pairs"),
        (_("All votes (JSONL)"), export.votes_jsonl(votes), "arena-votes.jsonl", "arena.export.votes"),
        (
            _("Demo feedback (JSONL)"),
            export.feedback_jsonl(store.feedback(owner)),
            "demo-feedback.jsonl",
            "arena.export.feedback",
        ),
    )
    for label, data, file_name, key in downloads:
        st.download_button(
            label,
            data=data,
            file_name=file_name,
            mime="application/jsonl",
            key=key,
            icon=":material/download:",
            on_click="ignore",
        )
