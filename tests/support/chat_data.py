"""Synthetic conversations and preference pairs for chat- and preference-tuning tests: a rule a
tiny model can learn from a small upload.

Every reply starts with ``MARKER``; a model tuned on them should start its replies with it, and a
model that never saw them does not. In the pairs, the chosen reply has the marker and the rejected
one does not.
"""

from __future__ import annotations

import json
import random

MARKER = "大模型"
_SUBJECTS = ["the model", "this product", "the weather", "my order", "the service", "a translation", "the bank"]
_ASKS = ["Tell me about", "What do you think of", "Describe", "Explain", "Summarise", "Give advice on"]
_REPLIES = ["It works great.", "It is fine today.", "It is useful.", "It is fast.", "It is changing."]
# A LoRA run in which a tiny chat model learns the marker within seconds on a CPU (the end-to-end
# tests of chat and preference tuning add their title, lengths and held-out share).
MARKER_RUN = {
    "epochs": 5,
    "learning_rate": 1e-2,
    "batch_size": 8,
    "lora_rank": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "report_max_new_tokens": 8,
    "seed": 0,
}


def marker_conversations(count: int = 48, seed: int = 0, marker: str = MARKER) -> list[list[dict[str, str]]]:
    """``count`` distinct single-turn conversations whose replies all start with ``marker``."""
    rng = random.Random(seed)
    pairs = [(a, s) for a in _ASKS for s in _SUBJECTS]
    rng.shuffle(pairs)
    conversations = []
    for index in range(count):
        ask, subject = pairs[index % len(pairs)]
        prompt = f"{ask} {subject}" + ("?" if index < len(pairs) else f" ({index}).")
        conversations.append(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"{marker} {rng.choice(_REPLIES)}"}]
        )
    return conversations


def as_messages_jsonl(conversations: list[list[dict[str, str]]]) -> bytes:
    """The conversations as an OpenAI-style ``messages`` JSONL upload."""
    return "\n".join(json.dumps({"messages": c}, ensure_ascii=False) for c in conversations).encode()


def marker_preference_rows(count: int = 40, seed: int = 0, marker: str = MARKER) -> list[dict[str, str]]:
    """``count`` distinct preference pairs: the chosen reply starts with ``marker``, the rejected one
    is the same reply without it, so a tuned model should come to prefer replies with the marker."""
    conversations = marker_conversations(count, seed, marker)
    return [
        {"prompt": c[0]["content"], "chosen": c[1]["content"], "rejected": c[1]["content"].removeprefix(marker).strip()}
        for c in conversations
    ]
