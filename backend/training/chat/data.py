"""Conversations for chat tuning: reading an upload, mapping it, checking it, splitting it.

Four shapes are read, the ones LLaMA-Factory and H2O LLM Studio users bring:

- ``messages``: JSONL, ``{"messages": [{"role": "user", "content": "..."}, ...]}`` (OpenAI style);
- ``sharegpt``: JSONL, ``{"conversations": [{"from": "human", "value": "..."}, ...]}``;
- ``alpaca``: JSONL, ``{"instruction": ..., "input": ..., "output": ...}``;
- ``table``: any table (CSV, TSV, XLSX, flat JSONL) with a prompt, a response and optionally a
  system column, mapped explicitly.

Every problem (empty turns, unknown roles, turns out of order, duplicates, conversations longer than
the chosen maximum) is found before a job is queued and reported with the rows concerned. The
data is written into the run folder (``data/chat_dataset.json``) because the worker is another
process. Encoding for training (``encode_conversation``) lives here too, so the check counts cut
rows with exactly the tokens the trainer will see.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from backend import chat_template, table_checks, uploads
from backend.errors import InvalidInputError
from backend.i18n import _, ngettext
from backend.training.chat.params import ChatTuneParams
from backend.training.common import StoredDataset, raise_if_errors

CHAT_DATASET_FILE = "chat_dataset.json"
MESSAGES = "messages"
SHAREGPT = "sharegpt"
ALPACA = "alpaca"
TABLE = "table"
SHAPES = (MESSAGES, SHAREGPT, ALPACA, TABLE)
SHAPE_LABELS = {
    MESSAGES: "messages (role / content turns)",
    SHAREGPT: "ShareGPT (conversations: from / value)",
    ALPACA: "Alpaca (instruction / input / output)",
    TABLE: "Table (prompt / response columns)",
}
CHAT_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".xlsx")
ROLES = ("system", "user", "assistant")
Item = TypeVar("Item")
# ShareGPT's speaker names, as the common exports write them.
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
}
MIN_CONVERSATIONS = 8
MAX_TURN_CHARS = 20_000
MAX_TURNS = 200
_ROWS_SHOWN = 8
IGNORE_INDEX = -100  # labels the loss skips (prompt, system and template tokens)


@dataclass(frozen=True)
class ChatMapping:
    """How an upload becomes conversations.

    Attributes:
        shape: one of ``SHAPES``.
        prompt: the table's prompt column (``table`` only).
        response: the table's response column (``table`` only).
        system: the table's system column, "" for none (``table`` only).
        drop_bad_rows: drop conversations with a problem instead of refusing the file.
    """

    shape: str
    prompt: str = ""
    response: str = ""
    system: str = ""
    drop_bad_rows: bool = False


@dataclass
class ChatUpload:
    """An uploaded file read into records (JSON lines) or a table; ``shape`` is the guess."""

    name: str
    shape: str
    records: list[dict[str, Any]] = field(default_factory=list)
    frame: pd.DataFrame | None = None

    @property
    def columns(self) -> list[str]:
        """The table's columns (flat records' keys for JSONL)."""
        return [str(c) for c in self.table().columns]

    def table(self) -> pd.DataFrame:
        """The upload as a table (nested turns shown as their JSON)."""
        if self.frame is not None:
            return self.frame
        return pd.DataFrame(self.records)

    def __len__(self) -> int:
        return len(self.frame) if self.frame is not None else len(self.records)


@dataclass
class ChatDataset(StoredDataset):
    """Checked, split conversations ready for training (each a list of ``{role, content}``)."""

    file_name = CHAT_DATASET_FILE

    train: list[list[dict[str, str]]]
    validation: list[list[dict[str, str]]]
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    preview: dict[str, str] = field(default_factory=dict)
    data_dir: str = ""


def guess_shape(records: Sequence[Any]) -> str:
    """The shape of JSON records, from the keys of the first object."""
    first = next((r for r in records if isinstance(r, dict)), {})
    if isinstance(first.get("messages"), list):
        return MESSAGES
    if isinstance(first.get("conversations"), list):
        return SHAREGPT
    if "instruction" in first and "output" in first:
        return ALPACA
    return TABLE


# A lone surrogate (a JSON escape such as "\\ud800" with no pair) is not a character: no tokenizer
# or file can take it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


_CONVERSATION_EXAMPLE = '{"messages": [{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}]}'


def _read_json_records(name: str, text: str, suffix: str) -> list[dict[str, Any]]:
    # table_checks is the one reader of JSON records from an upload: a line that is not an
    # object, an escaped NUL or a too-wide record is refused here in the table reader's words.
    if suffix == ".jsonl":
        records = table_checks.read_jsonl_records(name, text, uploads.MAX_TABLE_ROWS, _CONVERSATION_EXAMPLE)
    else:
        document = table_checks.read_json_document(name, text, uploads.MAX_TABLE_ROWS, _CONVERSATION_EXAMPLE)
        if not isinstance(document, list):
            raise InvalidInputError(
                _("{name} must hold a JSON list of conversations.").format(name=name), _("Or upload JSON lines.")
            )
        records = document
    if not records:
        raise InvalidInputError(_("{name} holds no conversations.").format(name=name))
    return records


def read_chat_upload(name: str, data: bytes) -> ChatUpload:
    """Read an uploaded file of conversations or prompt/response rows.

    JSON and JSONL are parsed as records (nested turns kept as they are, never unpickled or
    evaluated); other tables go through ``backend.uploads.read_table`` with its size checks.

    Raises:
        InvalidInputError: wrong type, encoding, not JSON, empty, too large.
    """
    uploads.check_size(name, len(data), uploads.MAX_TABLE_BYTES)
    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in CHAT_SUFFIXES:
        raise InvalidInputError(
            _("{name}: unsupported file type.").format(name=name),
            _("Use one of {value}.").format(value=", ".join(CHAT_SUFFIXES)),
        )
    if suffix in (".json", ".jsonl"):
        records = _read_json_records(name, uploads.decode_text(data, name), suffix)
        return ChatUpload(name, guess_shape(records), records=records)
    return ChatUpload(name, TABLE, frame=uploads.read_table(name, data))


def guess_mapping(upload: ChatUpload) -> ChatMapping:
    """The shape, and for tables the likeliest prompt, response and system columns."""
    if upload.shape != TABLE:
        return ChatMapping(upload.shape)
    columns = upload.columns
    lowered = {c.lower(): c for c in columns}

    def pick(names: tuple[str, ...], fallback: str) -> str:
        return next((lowered[n] for n in names if n in lowered), fallback)

    prompt = pick(("prompt", "instruction", "question", "input", "query", "user"), columns[0])
    rest = [c for c in columns if c != prompt] or columns
    response = pick(("response", "output", "answer", "completion", "reply", "assistant", "chosen"), rest[0])
    system = pick(("system", "system_prompt"), "")
    return ChatMapping(TABLE, prompt, response, system if system not in (prompt, response) else "")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).replace("\x00", "")


def _turns_of(record: Any, shape: str) -> list[dict[str, str]]:
    """A record's turns; raises ValueError with what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(_("is not a JSON object"))
    if shape == ALPACA:
        instruction, extra = _cell(record.get("instruction")).strip(), _cell(record.get("input")).strip()
        turns = []
        if _cell(record.get("system")).strip():
            turns.append({"role": "system", "content": _cell(record.get("system"))})
        prompt = f"{instruction}\n\n{extra}" if instruction and extra else instruction or extra
        return [
            *turns,
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": _cell(record.get("output"))},
        ]
    key, role_key, text_key = (
        ("messages", "role", "content") if shape == MESSAGES else ("conversations", "from", "value")
    )
    raw = record.get(key)
    if not isinstance(raw, list):
        raise ValueError(_("has no list of turns under {key}").format(key=repr(key)))
    turns = []
    for turn in raw:
        if not isinstance(turn, dict):
            raise ValueError(_("has a turn that is not an object"))
        role = _cell(turn.get(role_key)).strip().lower()
        role = _SHAREGPT_ROLES.get(role, role) if shape == SHAREGPT else role
        content = turn.get(text_key)
        if not isinstance(content, str):
            raise ValueError(_("has a turn whose {key} is not text").format(key=repr(text_key)))
        turns.append({"role": role, "content": content})
    if shape == SHAREGPT and isinstance(record.get("system"), str) and record["system"].strip():
        turns.insert(0, {"role": "system", "content": record["system"]})
    return turns


def check_turns(turns: list[dict[str, str]]) -> str:
    """What is wrong with a conversation ("" when nothing): roles, order, empty or long turns, as
    what the conversation does ("has no turns"), in the reader's language."""
    if not turns:
        return _("has no turns")
    if len(turns) > MAX_TURNS:
        return _("has more than {max_turns} turns").format(max_turns=MAX_TURNS)
    for number, turn in enumerate(turns, start=1):
        if turn["role"] not in ROLES:
            return _("has an unknown role {role} in turn {number} (use system, user or assistant)").format(
                role=repr(turn["role"]), number=number
            )
        if not turn["content"].strip():
            return _("has an empty turn {number} ({role})").format(number=number, role=turn["role"])
        if _LONE_SURROGATE.search(turn["content"]):
            return _("holds an escape that is no character in turn {number} (a lone surrogate such as \\ud800)").format(
                number=number
            )
        if len(turn["content"]) > MAX_TURN_CHARS:
            return _("has a turn {number} longer than {limit:,} characters").format(number=number, limit=MAX_TURN_CHARS)
    body = turns[1:] if turns[0]["role"] == "system" else turns
    if any(t["role"] == "system" for t in body):
        return _("has a system turn that is not the first")
    if not body or body[0]["role"] != "user":
        return _("does not start with a user turn (after an optional system turn)")
    for previous, current in zip(body, body[1:], strict=False):
        if previous["role"] == current["role"]:
            return _("has two {role} turns in a row (user and assistant must alternate)").format(role=current["role"])
    if body[-1]["role"] != "assistant":
        return _("does not end with an assistant reply (nothing to learn from)")
    return ""


def _row_list(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_ROWS_SHOWN])
    if len(rows) <= _ROWS_SHOWN:
        return shown
    return _("{shown} and {count} more").format(shown=shown, count=len(rows) - _ROWS_SHOWN)


def to_conversations(
    upload: ChatUpload, mapping: ChatMapping
) -> tuple[list[list[dict[str, str]]], list[str], list[str]]:
    """Map an upload into conversations.

    Returns:
        (conversations, errors, warnings); problems name the rows (JSON lines or table rows,
        counting from 1, the header not counted).
    """
    if mapping.shape not in SHAPES:
        return [], [_("Unknown data shape {shape}.").format(shape=repr(mapping.shape))], []
    raw: list[tuple[int, list[dict[str, str]] | str]] = []
    if mapping.shape == TABLE:
        frame = upload.table()
        columns = [mapping.prompt.strip(), mapping.response.strip()] + (
            [mapping.system.strip()] if mapping.system.strip() else []
        )
        missing = [c for c in columns if c not in frame.columns]
        if missing or not all(columns[:2]):
            available = ", ".join(repr(str(c)) for c in frame.columns)
            return [], [_("The file has no column {column!r}; its columns are {available}.").format(
                column=(missing or [""])[0], available=available
            )], []  # fmt: skip
        if len(set(columns)) != len(columns):
            return [], [_("The prompt, response and system columns must be different columns.")], []
        for row, values in enumerate(frame[columns].itertuples(index=False), start=1):
            cells = [_cell(v) for v in values]
            turns = [{"role": "system", "content": cells[2]}] if len(cells) == 3 and cells[2].strip() else []
            raw.append(
                (row, [*turns, {"role": "user", "content": cells[0]}, {"role": "assistant", "content": cells[1]}])
            )
    else:
        for row, record in enumerate(upload.records, start=1):
            try:
                raw.append((row, _turns_of(record, mapping.shape)))
            except ValueError as error:
                raw.append((row, str(error)))
    problems: dict[str, list[int]] = {}
    conversations = []
    for row, turns in raw:
        problem = turns if isinstance(turns, str) else check_turns(turns)
        if problem:
            problems.setdefault(problem, []).append(row)
            continue
        conversations.append([{"role": t["role"], "content": t["content"].strip()} for t in turns])
    errors, warnings = [], []
    for problem, rows in sorted(problems.items(), key=lambda item: item[1][0]):
        text = ngettext(
            "{count} conversation {problem} (row {rows}).",
            "{count} conversations: each {problem} (rows {rows}).",
            len(rows),
        ).format(count=len(rows), problem=problem, rows=_row_list(rows))
        (warnings if mapping.drop_bad_rows else errors).append(_("Dropped: ") + text if mapping.drop_bad_rows else text)
    if errors:
        errors.append(_("Fix these rows, or choose to drop conversations with a problem."))
    return conversations, errors, warnings


def require_chat_template(tokenizer: Any, model_name: str) -> None:
    """Refuse a base model without a chat template (a plain base model cannot hold a chat)."""
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidInputError(
            _("{model_name} has no chat template, so it cannot be tuned as a chat model.").format(
                model_name=model_name
            ),
            _("Pick an instruct or chat model (its tokenizer defines the conversation format)."),
        )


def trained_spans(tokenizer: Any, messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """The conversation rendered with the model's chat template, as (text, trained) pieces.

    Each assistant reply (with the template's end-of-turn marker) is trained; everything else is
    context. Pieces are cut where the rendered prompt for that reply ends, so training sees
    exactly the prompt that generation later continues from.

    Raises:
        InvalidInputError: the template renders a conversation differently from its own prefixes
            (the reply cannot be located).
        UnsafeModelError: the template broke the sandbox or its time or output limits.
    """
    return trained_spans_of_all(tokenizer, [messages])[0]


def trained_spans_of_all(
    tokenizer: Any, conversations: list[list[dict[str, str]]], model_name: str = "The base model"
) -> list[list[tuple[str, bool]]]:
    """:func:`trained_spans` of every conversation, rendered in one sandboxed request."""
    wanted: list[tuple[list[dict[str, str]], bool]] = []
    for messages in conversations:
        wanted.append((messages, False))
        for index, message in enumerate(messages):
            if message["role"] == "assistant":
                wanted.extend([(messages[:index], True), (messages[: index + 1], False)])
    rendered = iter(chat_template.render_chats(tokenizer, [m for m, _ in wanted], [g for _, g in wanted], model_name))
    return [_spans(messages, rendered) for messages in conversations]


def _spans(messages: list[dict[str, str]], rendered: Iterator[str]) -> list[tuple[str, bool]]:
    full = next(rendered)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for message in messages:
        if message["role"] != "assistant":
            continue
        prompt, upto = next(rendered), next(rendered)
        # Some templates add text after the last turn only (or drop it in history); train from the
        # point where this reply's prompt stops matching.
        common = len(prompt)
        if not upto.startswith(prompt):
            common = next(
                (i for i, (a, b) in enumerate(zip(prompt, upto, strict=False)) if a != b), min(len(prompt), len(upto))
            )
        if not full.startswith(upto) or common < position:
            raise InvalidInputError(
                _("The base model's chat template renders conversations in a way replies cannot be located in."),
                _("Pick another chat model."),
            )
        pieces.append((full[position:common], False))
        pieces.append((upto[common:], True))
        position = len(upto)
    if position < len(full):
        pieces.append((full[position:], False))
    return [(text, trained) for text, trained in pieces if text]


@dataclass(frozen=True)
class EncodedConversation:
    """Token ids with labels (``IGNORE_INDEX`` where the loss is not taken)."""

    input_ids: list[int]
    labels: list[int]
    full_tokens: int

    @property
    def cut(self) -> bool:
        """Whether the conversation was longer than the maximum and lost its end."""
        return self.full_tokens > len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        """Tokens the loss is taken on."""
        return sum(label != IGNORE_INDEX for label in self.labels)


def encode_conversation(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> EncodedConversation:
    """Token ids of a conversation, cut to ``max_length``, with the loss on assistant replies only."""
    return encode_conversations(tokenizer, [messages], max_length)[0]


def encode_conversations(
    tokenizer: Any, conversations: list[list[dict[str, str]]], max_length: int, model_name: str = "The base model"
) -> list[EncodedConversation]:
    """:func:`encode_conversation` of every conversation, their templates rendered in one request."""
    encoded = []
    for spans in trained_spans_of_all(tokenizer, conversations, model_name):
        ids: list[int] = []
        labels: list[int] = []
        for text, trained in spans:
            piece = list(tokenizer(text, add_special_tokens=False)["input_ids"])
            ids.extend(piece)
            labels.extend(piece if trained else [IGNORE_INDEX] * len(piece))
        encoded.append(EncodedConversation(ids[:max_length], labels[:max_length], len(ids)))
    return encoded


def distinct(items: list[Item], identity: Callable[[Item], object]) -> list[Item]:
    """``items`` without repeats, the first of each kept; two items repeat each other when their
    ``identity`` is the same as JSON (conversations here, preference pairs in ``preference.data``)."""
    seen: set[str] = set()
    kept = []
    for item in items:
        key = json.dumps(identity(item), ensure_ascii=False, sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _drop_duplicates(conversations: list[list[dict[str, str]]], warnings: list[str]) -> list[list[dict[str, str]]]:
    kept = distinct(conversations, lambda conversation: conversation)
    if len(kept) < len(conversations):
        removed = len(conversations) - len(kept)
        warnings.append(
            ngettext(
                "Removed {count} duplicate conversation so it cannot sit in both training and validation.",
                "Removed {count} duplicate conversations so they cannot sit in both training and validation.",
                removed,
            ).format(count=removed)
        )
    return kept


def _preview(tokenizer: Any, conversation: list[dict[str, str]]) -> dict[str, str]:
    pieces = trained_spans(tokenizer, conversation)
    return {
        "formatted": "".join(text for text, _ in pieces),
        "trained": "".join(text for text, trained in pieces if trained),
    }


def special_token_warnings(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> list[str]:
    """A warning when conversation text holds the model's special tokens (``<|im_end|>``): the
    tokenizer reads them as the real tokens, so training would learn them as turn markers."""
    specials = sorted({str(t) for t in getattr(tokenizer, "all_special_tokens", []) if len(str(t)) > 1})
    found: set[str] = set()
    rows: list[int] = []
    for number, conversation in enumerate(conversations, start=1):
        present = {token for token in specials for turn in conversation if token in turn["content"]}
        if present:
            found |= present
            rows.append(number)
    if not rows:
        return []
    return [
        ngettext(
            "{count} conversation holds the base model's special tokens as text ({tokens}; conversation "
            "{rows}): training reads them as real special tokens (turn markers), not as text. Remove them "
            "unless that is what you mean.",
            "{count} conversations hold the base model's special tokens as text ({tokens}; conversations "
            "{rows}): training reads them as real special tokens (turn markers), not as text. Remove them "
            "unless that is what you mean.",
            len(rows),
        ).format(count=len(rows), tokens=", ".join(sorted(found)[:5]), rows=_row_list(rows))
    ]


def prepare_chat_dataset(
    upload: ChatUpload, mapping: ChatMapping, tokenizer: Any, params: ChatTuneParams, model_name: str = "The base model"
) -> ChatDataset:
    """Map, check and split conversations for tuning ``tokenizer``'s model.

    Args:
        upload: from ``read_chat_upload``.
        mapping: the shape, and for tables the columns.
        tokenizer: the base model's tokenizer (its chat template formats every conversation).
        params: the job's; its ``max_length`` is the token limit (conversations past it are counted,
            as they would be cut, and those that would lose every reply are refused), its
            ``validation_fraction`` the held-out share for validation loss and the report's
            prompts, its ``seed`` the split's.
        model_name: how the base model is named in messages.

    Raises:
        InvalidInputError: every problem found, numbered (nothing is queued).
    """
    max_length, validation_fraction, seed = params.max_length, params.validation_fraction, params.seed
    require_chat_template(tokenizer, model_name)
    conversations, errors, warnings = to_conversations(upload, mapping)
    raise_if_errors(errors)
    warnings.extend(special_token_warnings(tokenizer, conversations))
    conversations = _drop_duplicates(conversations, warnings)
    if len(conversations) < MIN_CONVERSATIONS:
        raise_if_errors(
            [
                _("Only {count} usable conversations; at least {minimum} are needed.").format(
                    count=len(conversations), minimum=MIN_CONVERSATIONS
                )
            ]
        )
    encoded = encode_conversations(tokenizer, conversations, max_length, model_name)
    lengths = np.array([e.full_tokens for e in encoded])
    cut = [i + 1 for i, e in enumerate(encoded) if e.cut]
    empty = [i for i, e in enumerate(encoded) if e.trained_tokens == 0]
    if empty:
        warnings.append(
            ngettext(
                "{count} conversation loses every reply at max length {max_length} tokens and was dropped; "
                "raise max length to keep it.",
                "{count} conversations lose every reply at max length {max_length} tokens and were dropped; "
                "raise max length to keep them.",
                len(empty),
            ).format(count=len(empty), max_length=max_length)
        )
        dropped = set(empty)
        conversations = [c for i, c in enumerate(conversations) if i not in dropped]
        raise_if_errors(
            [
                _("Only {count} conversations fit max length {max_length}; raise it.").format(
                    count=len(conversations), max_length=max_length
                )
            ]
            if len(conversations) < MIN_CONVERSATIONS
            else []
        )
    if cut:
        warnings.append(
            _(
                "{cut} of {total} conversations are longer than {max_length} tokens and will be cut at the end "
                "(the longest has {longest:,} tokens)."
            ).format(cut=len(cut), total=len(encoded), max_length=max_length, longest=int(lengths.max()))
        )
    order = np.random.default_rng(seed).permutation(len(conversations)).tolist()
    held_out = min(len(conversations) - 1, max(1, round(len(conversations) * validation_fraction)))
    validation = [conversations[i] for i in sorted(order[:held_out])]
    train = [conversations[i] for i in sorted(order[held_out:])]
    summary = {
        "shape": mapping.shape,
        "rows": len(upload),
        "used_rows": len(conversations),
        "train_size": len(train),
        "validation_size": len(validation),
        "validation_source": _("{share:.0%} random split").format(share=validation_fraction),
        "max_length": max_length,
        "cut_rows": len(cut),
        "tokens_median": int(np.median(lengths)),
        "tokens_p95": int(np.percentile(lengths, 95)),
        "tokens_max": int(lengths.max()),
        "trained_tokens": int(sum(e.trained_tokens for e in encoded)),
        "mean_turns": round(float(np.mean([len(c) for c in conversations])), 1),
    }
    return ChatDataset(train, validation, warnings, summary, _preview(tokenizer, train[0]))
