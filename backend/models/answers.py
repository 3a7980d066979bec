"""Example answers, cached per model: an example already answered with a model answers at once.

Only the demos' fixed examples are kept (never what users type), keyed by task, model, the
example and the options that change the answer; the oldest are dropped past a small bound. Shared
by every session of the process, like the model cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

# A few examples per demo and model; results are small dataclasses.
_MAX_ANSWERS = 256

AnswerKey = tuple[str, str, str, tuple[Hashable, ...]]


class AnswerCache:
    """A bounded, thread-safe map from (task, model, example, options) to the computed answer."""

    def __init__(self, max_answers: int = _MAX_ANSWERS) -> None:
        self._answers: OrderedDict[AnswerKey, object] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_answers

    def get(self, key: AnswerKey) -> object | None:
        """The cached answer, or None."""
        with self._lock:
            if key not in self._answers:
                return None
            self._answers.move_to_end(key)
            return self._answers[key]

    def put(self, key: AnswerKey, answer: object) -> None:
        """Keep ``answer`` for ``key``, dropping the oldest past the bound."""
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self._max:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._answers.clear()

    def __len__(self) -> int:
        return len(self._answers)


_shared = AnswerCache()


def shared_answers() -> AnswerCache:
    """The process-wide example answers."""
    return _shared
