"""Turning a conversation into model input with the tokenizer's chat template, within the context.

Older turns are dropped (oldest first, the system message kept) until the prompt plus the reply fit
the model's context; a single message too long even alone is cut, and the result says so.
Callers hold ``loaded.lock`` around these functions (they use the shared tokenizer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from backend import chat_template
from backend.errors import InvalidInputError
from backend.i18n import _
from backend.models.loader import LoadedModel
from backend.records import JsonRecord
from backend.uploads import check_text

MAX_MESSAGE_CHARS = 4_000
# Past this many prompt tokens a CPU answer takes too long to feel live; older turns are dropped.
MAX_CONTEXT_TOKENS = 2_048
_ROLES = ("system", "user", "assistant")
_FALLBACK_WINDOW = 2_048
# Room kept for the template's own tokens when a message is cut to fit.
_TEMPLATE_MARGIN = 16


@dataclass(frozen=True)
class ChatMessage(JsonRecord):
    """One turn of a conversation."""

    role: str
    content: str


@dataclass(frozen=True)
class PreparedPrompt:
    """Token ids of a conversation ready for ``generate`` (shape 1 x prompt_tokens)."""

    input_ids: torch.Tensor
    prompt_tokens: int
    max_new_tokens: int
    dropped_messages: int
    truncated_message: bool


def context_window(loaded: LoadedModel) -> int:
    """Positions the model can attend to (prompt plus reply)."""
    positions = getattr(loaded.model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        return positions
    limit = getattr(loaded.preprocessor, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else _FALLBACK_WINDOW


def _checked(messages: Sequence[ChatMessage], open_reply: bool = False) -> list[ChatMessage]:
    """The messages checked; with ``open_reply``, the last may be the assistant's reply to the user's
    message before it, cut short, which the model is to continue."""
    if not messages:
        raise InvalidInputError(_("There is no message to answer."))
    checked = []
    for message in messages:
        if message.role not in _ROLES:
            raise InvalidInputError(_("Unknown chat role {role!r}.").format(role=message.role))
        checked.append(ChatMessage(message.role, check_text(message.content, MAX_MESSAGE_CHARS, "The message")))
    continues = open_reply and len(checked) >= 2 and [m.role for m in checked[-2:]] == ["user", "assistant"]
    if checked[-1].role != "user" and not continues:
        raise InvalidInputError(_("The last message must be the user's."))
    return checked


def check_messages(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The conversation with every message checked (known role, text within limits, the user's
    turn last); for servers that apply the chat template themselves.

    Raises:
        InvalidInputError: saying which message is wrong.
    """
    return _checked(messages)


def _encode(loaded: LoadedModel, messages: list[ChatMessage]) -> list[int]:
    tokenizer = loaded.preprocessor
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidInputError(
            _("{model_ref} has no chat template, so it cannot hold a conversation.").format(model_ref=loaded.model_ref),
            _("Pick an instruct or chat model."),
        )
    # A template without a system role (Gemma's) gets the system message in the first user turn.
    text = chat_template.render_chat(
        tokenizer, [message.to_dict() for message in messages], generation_prompt=True, model_name=loaded.model_ref
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _drop_oldest(messages: list[ChatMessage]) -> list[ChatMessage] | None:
    """The conversation without its oldest non-system turn(s), or None if only the last is left."""
    system = [m for m in messages if m.role == "system"][:1]
    rest = [m for m in messages if m.role != "system"]
    if len(rest) <= 1:
        return None
    rest = rest[1:]
    # A conversation should start with the user after the system message.
    while len(rest) > 1 and rest[0].role != "user":
        rest = rest[1:]
    return system + rest


def _cut_last(loaded: LoadedModel, messages: list[ChatMessage], excess: int) -> list[ChatMessage]:
    tokenizer = loaded.preprocessor
    last = messages[-1]
    ids = tokenizer(last.content, add_special_tokens=False)["input_ids"]
    keep = max(1, len(ids) - excess - _TEMPLATE_MARGIN)
    return [*messages[:-1], ChatMessage(last.role, tokenizer.decode(ids[:keep], skip_special_tokens=True))]


def prepare_prompt(loaded: LoadedModel, messages: Sequence[ChatMessage], max_new_tokens: int) -> PreparedPrompt:
    """Encode ``messages`` with the chat template so that prompt and reply fit the context.

    When the last message is the assistant's (a reply cut short, to be continued), it is the open
    turn: the template renders the conversation before it up to the start of a reply, and the
    reply's text follows as the first tokens of that reply, so the model goes on writing it rather
    than answering a new turn.

    Raises:
        InvalidInputError: empty or over-long messages, wrong roles, no chat template.
    """
    conversation = _checked(messages, open_reply=True)
    opened: list[int] = []
    if conversation[-1].role == "assistant":
        opened = list(loaded.preprocessor(conversation.pop().content, add_special_tokens=False)["input_ids"])
    window = context_window(loaded)
    reply_room = min(max_new_tokens, window // 2)
    budget = min(MAX_CONTEXT_TOKENS, window - reply_room)
    original_count = len(conversation)
    ids = _encode(loaded, conversation) + opened
    while len(ids) > budget:
        shorter = _drop_oldest(conversation)
        if shorter is None:
            break
        conversation = shorter
        ids = _encode(loaded, conversation) + opened
    truncated = False
    for _attempt in range(3):
        if len(ids) <= budget:
            break
        conversation = _cut_last(loaded, conversation, len(ids) - budget)
        ids = _encode(loaded, conversation) + opened
        truncated = True
    if len(ids) > budget:
        raise InvalidInputError(_("The message does not fit the model's context."), _("Shorten it."))
    return PreparedPrompt(
        input_ids=torch.tensor([ids], dtype=torch.long),
        prompt_tokens=len(ids),
        max_new_tokens=min(max_new_tokens, window - len(ids)),
        dropped_messages=original_count - len(conversation),
        truncated_message=truncated,
    )


def encode_prompts(
    loaded: LoadedModel, prompts: Sequence[str], max_new_tokens: int
) -> tuple[dict[str, torch.Tensor], int]:
    """Left-padded ``input_ids`` and ``attention_mask`` for single-turn prompts, and the reply room.

    Padding is done here rather than by the tokenizer so the shared tokenizer's padding settings
    are never changed.
    """
    prepared = [prepare_prompt(loaded, [ChatMessage("user", prompt)], max_new_tokens) for prompt in prompts]
    pad_id = getattr(loaded.preprocessor, "pad_token_id", None)
    if pad_id is None:
        pad_id = getattr(loaded.preprocessor, "eos_token_id", None) or 0
    width = max(p.prompt_tokens for p in prepared)
    input_ids = torch.full((len(prepared), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prepared), width), dtype=torch.long)
    for row, prompt in enumerate(prepared):
        input_ids[row, width - prompt.prompt_tokens :] = prompt.input_ids[0]
        attention_mask[row, width - prompt.prompt_tokens :] = 1
    room = min(p.max_new_tokens for p in prepared)
    return {"input_ids": input_ids, "attention_mask": attention_mask}, room
