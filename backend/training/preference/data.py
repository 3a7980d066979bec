"""Preference pairs for preference tuning: reading an upload (or the arena's votes), mapping its
columns, checking every pair, splitting it, and rendering pairs as the trainer sees them.

A pair is a prompt, a chosen reply and a rejected reply. Uploads are JSONL, JSON, CSV, TSV or XLSX
with a column for each (``prompt``/``chosen``/``rejected`` are found by name). A prompt cell may be
text (one user turn) or a list of ``{role, content}`` turns ending with the user's (trl's
conversational shape); a reply cell may be text or a list ending with the assistant's turn.

Every problem (empty fields, identical chosen and rejected replies, cells that are not text, too few
pairs) is found before a job is queued and reported with the rows concerned; pairs longer than the
chosen maximum are counted and said, since they lose the end of their replies. The data is written
into the run folder (``data/preference_dataset.json``) because the worker is another process.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from backend import uploads
from backend.errors import InvalidInputError
from backend.i18n import _, ngettext
from backend.training.chat.data import (
    MAX_TURN_CHARS,
    check_turns,
    distinct,
    require_chat_template,
    special_token_warnings,
    trained_spans_of_all,
)
from backend.training.common import StoredDataset, raise_if_errors
from backend.training.preference.params import PreferenceParams

PREFERENCE_DATASET_FILE = "preference_dataset.json"
PREFERENCE_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".xlsx")
# Below this many pairs, a held-out reward accuracy is a handful of coin flips.
MIN_PAIRS = 10
# Held-out pairs the report's reward accuracy is measured on, at the least.
MIN_HELD_OUT_PAIRS = 2
_ROWS_SHOWN = 8
_PROMPT_NAMES = ("prompt", "question", "instruction", "input", "query", "user")
_CHOSEN_NAMES = ("chosen", "preferred", "winner", "better", "accepted", "chosen_response")
_REJECTED_NAMES = ("rejected", "dispreferred", "loser", "worse", "rejected_response")


@dataclass(frozen=True)
class PreferenceMapping:
    """Which columns hold the prompt, the chosen reply and the rejected reply.

    Attributes:
        drop_bad_rows: drop pairs with a problem (said as a warning) instead of refusing the file.
    """

    prompt: str
    chosen: str
    rejected: str
    drop_bad_rows: bool = False


@dataclass
class PreferencePair:
    """One checked pair: the prompt as chat turns (ending with the user's), and the two replies."""

    prompt: list[dict[str, str]]
    chosen: str
    rejected: str

    def conversations(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """The prompt followed by the chosen reply, and by the rejected reply."""
        return (
            [*self.prompt, {"role": "assistant", "content": self.chosen}],
            [*self.prompt, {"role": "assistant", "content": self.rejected}],
        )


@dataclass
class PreferenceDataset(StoredDataset):
    """Checked, split preference pairs ready for training."""

    file_name = PREFERENCE_DATASET_FILE

    train: list[PreferencePair]
    validation: list[PreferencePair]
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    data_dir: str = ""

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> PreferenceDataset:
        """The dataset from its JSON fields, its pairs rebuilt."""
        pairs = {name: [PreferencePair(**pair) for pair in data[name]] for name in ("train", "validation")}
        return cls(**{**data, **pairs})


@dataclass(frozen=True)
class RenderedPair:
    """A pair as the trainer reads it: the prompt rendered with the model's chat template (up to
    where the reply starts) and each reply with the template's end-of-turn marker."""

    prompt: str
    chosen: str
    rejected: str


def read_preference_upload(name: str, data: bytes) -> pd.DataFrame:
    """Read an uploaded preference file into a table (nested turns kept as lists).

    Raises:
        InvalidInputError: wrong type, encoding, empty, too large.
    """
    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in PREFERENCE_SUFFIXES:
        raise InvalidInputError(
            _("{name}: unsupported file type.").format(name=name),
            _("Use one of {suffixes}.").format(suffixes=", ".join(PREFERENCE_SUFFIXES)),
        )
    return uploads.read_table(name, data)


def rows_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Preference rows (dicts with prompt, chosen and rejected, as the arena exports votes) as a table."""
    frame = pd.DataFrame(list(rows), columns=["prompt", "chosen", "rejected"])
    if frame.empty:
        raise InvalidInputError(
            _("There are no preference pairs yet."),
            _("Vote in the arena (A better or B better) or upload a file of pairs."),
        )
    return frame


def guess_preference_mapping(frame: pd.DataFrame) -> PreferenceMapping:
    """The likeliest prompt, chosen and rejected columns (by name, then by position)."""
    columns = [str(c) for c in frame.columns]
    lowered = {c.lower(): c for c in columns}

    def pick(names: tuple[str, ...], taken: set[str]) -> str:
        named = next((lowered[n] for n in names if n in lowered and lowered[n] not in taken), None)
        return named or next((c for c in columns if c not in taken), columns[0])

    prompt = pick(_PROMPT_NAMES, set())
    chosen = pick(_CHOSEN_NAMES, {prompt})
    rejected = pick(_REJECTED_NAMES, {prompt, chosen})
    return PreferenceMapping(prompt, chosen, rejected)


def _row_list(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_ROWS_SHOWN])
    more = len(rows) - _ROWS_SHOWN
    return shown + (_(" and {count} more").format(count=more) if more > 0 else "")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _prompt_of(value: Any) -> list[dict[str, str]]:
    """A prompt cell as chat turns; raises ValueError saying what is wrong."""
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        raise ValueError(_("have an empty prompt"))
    if isinstance(value, str | int | float):
        return [{"role": "user", "content": str(value).replace("\x00", "").strip()}]
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ValueError(_("have a prompt that is neither text nor a list of chat turns"))
    turns = [{"role": str(t.get("role", "")), "content": str(t.get("content") or "").strip()} for t in value]
    # The prompt must be a valid conversation once a reply is added (the chat kind's own check).
    problem = check_turns([*turns, {"role": "assistant", "content": "-"}])
    if problem:
        raise ValueError(_("have a prompt that {problem}").format(problem=problem))
    return turns


def _reply_of(value: Any, which: str) -> str:
    """A reply cell as text; raises ValueError saying what is wrong."""
    if isinstance(value, list):
        replies = [t.get("content") for t in value if isinstance(t, dict) and t.get("role") == "assistant"]
        value = replies[-1] if replies else None
    if _is_missing(value) or isinstance(value, dict | list):
        raise ValueError(_("have an empty or unreadable {which} reply").format(which=which))
    text = str(value).replace("\x00", "").strip()
    if not text:
        raise ValueError(_("have an empty {which} reply").format(which=which))
    if len(text) > MAX_TURN_CHARS:
        raise ValueError(_("have a {which} reply over {limit:,} characters").format(which=which, limit=MAX_TURN_CHARS))
    return text


def _pair_of(prompt: Any, chosen: Any, rejected: Any) -> PreferencePair:
    pair = PreferencePair(_prompt_of(prompt), _reply_of(chosen, _("chosen")), _reply_of(rejected, _("rejected")))
    if pair.chosen == pair.rejected:
        raise ValueError(_("have the same chosen and rejected reply (nothing to prefer)"))
    return pair


def to_pairs(frame: pd.DataFrame, mapping: PreferenceMapping) -> tuple[list[PreferencePair], list[str], list[str]]:
    """Map a table into pairs.

    Returns:
        (pairs, errors, warnings); problems name the rows (counting from 1, the header not counted).
    """
    columns = [mapping.prompt.strip(), mapping.chosen.strip(), mapping.rejected.strip()]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        available = ", ".join(repr(str(c)) for c in frame.columns)
        return [], [_("The file has no column {column!r}; its columns are {available}.").format(
            column=missing[0], available=available
        )], []  # fmt: skip
    if len(set(columns)) != len(columns):
        return [], [_("The prompt, chosen and rejected columns must be three different columns.")], []
    problems: dict[str, list[int]] = {}
    pairs = []
    for row, values in enumerate(frame[columns].itertuples(index=False), start=1):
        try:
            pairs.append(_pair_of(*values))
        except ValueError as problem:
            problems.setdefault(str(problem), []).append(row)
    errors, warnings = [], []
    for problem, rows in sorted(problems.items(), key=lambda item: item[1][0]):
        text = ngettext(
            "{count} pair {problem} (row {rows}).", "{count} pairs {problem} (rows {rows}).", len(rows)
        ).format(count=len(rows), problem=problem, rows=_row_list(rows))
        (warnings if mapping.drop_bad_rows else errors).append(_("Dropped: ") + text if mapping.drop_bad_rows else text)
    if errors:
        errors.append(_("Fix these rows, or choose to drop pairs with a problem."))
    return pairs, errors, warnings


def _drop_duplicates(pairs: list[PreferencePair], warnings: list[str]) -> list[PreferencePair]:
    kept = distinct(pairs, lambda pair: [pair.prompt, pair.chosen, pair.rejected])
    if len(kept) < len(pairs):
        removed = len(pairs) - len(kept)
        warnings.append(
            ngettext(
                "Removed {count} duplicate pair so it cannot sit in both training and the held-out pairs.",
                "Removed {count} duplicate pairs so they cannot sit in both training and the held-out pairs.",
                removed,
            ).format(count=removed)
        )
    return kept


def _reply_span(spans: list[tuple[str, bool]], eos_token: str | None) -> tuple[str, str]:
    """The rendered prompt (text before the reply) and the reply with its end-of-turn marker. Text
    the template adds after the marker (a newline) is left out, so the reply ends with the end-of-
    sequence token where the template closes turns with it (as generation stops there)."""
    first = next(i for i, (_text, trained) in enumerate(spans) if trained)
    prompt = "".join(text for text, _trained in spans[:first])
    reply = spans[first][0]
    if eos_token and eos_token in reply and not reply[reply.rindex(eos_token) + len(eos_token) :].strip():
        reply = reply[: reply.rindex(eos_token) + len(eos_token)]
    return prompt, reply


def render_pairs(tokenizer: Any, pairs: list[PreferencePair], model_name: str = "The base model") -> list[RenderedPair]:
    """Every pair rendered with ``tokenizer``'s chat template, in one sandboxed request.

    Raises:
        InvalidInputError: the template renders a pair's two conversations with different prompts.
        UnsafeModelError: the template broke the sandbox or its limits.
    """
    conversations = [conversation for pair in pairs for conversation in pair.conversations()]
    spans = trained_spans_of_all(tokenizer, conversations, model_name)
    eos = getattr(tokenizer, "eos_token", None)
    rendered = []
    for index in range(len(pairs)):
        prompt, chosen = _reply_span(spans[2 * index], eos)
        other_prompt, rejected = _reply_span(spans[2 * index + 1], eos)
        if prompt != other_prompt:
            raise InvalidInputError(
                _("{model} renders the same prompt differently before two replies.").format(model=model_name),
                _("Pick another base model."),
            )
        rendered.append(RenderedPair(prompt, chosen, rejected))
    return rendered


@dataclass(frozen=True)
class PairLengths:
    """Token counts of a rendered pair."""

    prompt: int
    chosen: int
    rejected: int

    @property
    def longest(self) -> int:
        """Prompt plus the longer reply: what must fit ``max_length``."""
        return self.prompt + max(self.chosen, self.rejected)


def token_lengths(tokenizer: Any, rendered: list[RenderedPair]) -> list[PairLengths]:
    """Token counts of each rendered pair, as the trainer will tokenise them (``pair_token_ids``)."""
    counts = []
    for pair in rendered:
        prompt, chosen, rejected = pair_token_ids(tokenizer, pair)
        counts.append(PairLengths(len(prompt), len(chosen), len(rejected)))
    return counts


def pair_token_ids(tokenizer: Any, pair: RenderedPair) -> tuple[list[int], list[int], list[int]]:
    """The prompt's and each reply's token ids exactly as trl's DPO trainer cuts them: the prompt
    and the prompt+reply texts tokenised whole, the prompt being their common prefix."""

    def ids(text: str) -> list[int]:
        return list(tokenizer(text)["input_ids"])

    prompt, with_chosen, with_rejected = (
        ids(pair.prompt),
        ids(pair.prompt + pair.chosen),
        ids(pair.prompt + pair.rejected),
    )
    shared = min(_common_prefix(prompt, with_chosen), _common_prefix(prompt, with_rejected))
    return prompt[:shared], with_chosen[shared:], with_rejected[shared:]


def _common_prefix(first: list[int], second: list[int]) -> int:
    return next(
        (i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), min(len(first), len(second))
    )


def _split(
    pairs: list[PreferencePair], fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    order = np.random.default_rng(seed).permutation(len(pairs)).tolist()
    held_out = min(len(pairs) - 1, max(MIN_HELD_OUT_PAIRS, round(len(pairs) * fraction)))
    return [pairs[i] for i in sorted(order[held_out:])], [pairs[i] for i in sorted(order[:held_out])]


def prepare_preference_dataset(
    frame: pd.DataFrame,
    mapping: PreferenceMapping,
    tokenizer: Any,
    params: PreferenceParams,
    model_name: str = "The base model",
) -> PreferenceDataset:
    """Map, check and split preference pairs for tuning ``tokenizer``'s model (as
    ``prepare_chat_dataset`` does conversations).

    Args:
        frame: from ``read_preference_upload`` or ``rows_table``.
        mapping: the prompt, chosen and rejected columns.
        params: the job's; pairs past its ``max_length`` (prompt plus reply) are counted, as their
            replies lose their end, and those whose prompt alone fills it are dropped; its
            ``validation_fraction`` is held out for the report's reward accuracy and replies.
    """
    max_length = params.max_length
    require_chat_template(tokenizer, model_name)
    pairs, errors, warnings = to_pairs(frame, mapping)
    raise_if_errors(errors)
    pairs = _drop_duplicates(pairs, warnings)
    too_few = _("Only {count} usable pair(s); at least {least} are needed.")
    raise_if_errors([too_few.format(count=len(pairs), least=MIN_PAIRS)] if len(pairs) < MIN_PAIRS else [])
    warnings.extend(special_token_warnings(tokenizer, [c for pair in pairs for c in pair.conversations()[:1]]))
    lengths = token_lengths(tokenizer, render_pairs(tokenizer, pairs, model_name))
    unfit = {i for i, length in enumerate(lengths) if length.prompt >= max_length}
    cut = [i for i, length in enumerate(lengths) if length.longest > max_length and i not in unfit]
    if unfit:
        warnings.append(
            _("{count} pair(s) have a prompt of {limit} tokens or more, leaving no room for a reply, and were"
              " dropped; raise max length to keep them.").format(count=len(unfit), limit=max_length)
        )  # fmt: skip
        pairs = [pair for i, pair in enumerate(pairs) if i not in unfit]
        raise_if_errors([too_few.format(count=len(pairs), least=MIN_PAIRS)] if len(pairs) < MIN_PAIRS else [])
    if cut:
        longest = max(length.longest for length in lengths)
        warnings.append(
            _("{count} of {total} pair(s) are longer than {limit} tokens and will be cut at the end of their"
              " replies (the longest has {longest:,} tokens).").format(
                count=len(cut), total=len(lengths), limit=max_length, longest=longest
            )
        )  # fmt: skip
    train, validation = _split(pairs, params.validation_fraction, params.seed)
    totals = np.array([length.longest for length in lengths])
    summary = {
        "rows": len(frame),
        "used_rows": len(pairs),
        "train_size": len(train),
        "validation_size": len(validation),
        "validation_source": _("{share:.0%} random split").format(share=params.validation_fraction),
        "max_length": max_length,
        "cut_rows": len(cut),
        "dropped_rows": len(unfit),
        "tokens_median": int(np.median(totals)),
        "tokens_max": int(totals.max()),
    }
    return PreferenceDataset(train, validation, warnings, summary)
