"""Worker process for ``app_timing``: one demo page's first answer, cold then warm.

Run as ``python -m benchmarks.first_answer TASK HUB_ID NEW_TOKENS`` with the settings in the
environment; prints one JSON line. The page's modules are imported first (the app has imported
them by the time a user clicks), then the clock covers the shared cache's ``get`` (the model
load) and the demo call; warm is the same call on a new input with the model cached.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _demo_call(task: str, new_tokens: int) -> Callable[[Any, int], object]:
    from backend.inference import image_classification, sentiment, text_generation, translation
    from backend.inference.chat_prompt import ChatMessage
    from benchmarks import workloads

    if task == "sentiment":
        return lambda loaded, seed: sentiment.classify_text(loaded, workloads.sentences(1, seed=seed)[0])
    if task == "translation":
        return lambda loaded, seed: translation.translate_text(
            loaded, "The model answer was quick and clear.", "en", "zh"
        )
    if task == "image-classification":
        return lambda loaded, seed: image_classification.classify_image(loaded, workloads.images(1, seed=seed)[0])

    def first_token(loaded: Any, seed: int) -> object:
        options = text_generation.GenerationOptions(max_new_tokens=new_tokens)
        stream = text_generation.stream_reply(loaded, [ChatMessage("user", workloads.prompts(seed + 1)[-1])], options)
        iterator = iter(stream)
        chunk = next(iterator, "")
        stream.stop_event.set()
        for _ in iterator:
            pass
        return chunk

    return first_token


def main(argv: list[str]) -> dict[str, object]:
    """Time the cold and the warm first answer of ``argv = [task, hub_id, new_tokens]``."""
    task, hub_id, new_tokens = argv[0], argv[1], int(argv[2])
    imports_started = time.perf_counter()
    from backend.models.cache import shared_cache

    call = _demo_call(task, new_tokens)
    imports = time.perf_counter() - imports_started
    started = time.perf_counter()
    loaded = shared_cache().get(task, hub_id)
    loaded_at = time.perf_counter() - started
    call(loaded, 0)
    cold = time.perf_counter() - started
    warm_started = time.perf_counter()
    call(shared_cache().get(task, hub_id), 1)
    warm = time.perf_counter() - warm_started
    # A stand-in's random token ids decode to no text, so then the first chunk is the reply's end.
    what = "first streamed text" if task == "text-generation" else "answer"
    return {
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 3),
        "how": f"backend path: cache get (load {loaded_at:.2f} s) + demo call to {what}; imports {imports:.2f} s before",
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
