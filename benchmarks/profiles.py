"""How much work each mode does: ``tiny`` (the test), ``quick`` (CPU, minutes) and ``full`` (GPU)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    """Sizes and counts of one benchmark mode.

    Attributes:
        name: tiny, quick or full.
        tiny_models: use the test-suite's tiny models instead of the real architectures.
        single_requests: single-request calls timed per path (latency percentiles).
        batch_items: inputs in the batch-throughput run (texts, sentences, images, prompts).
        max_words: longest synthetic text, in words (sentences spread from 4 to this).
        translation_max_words: the same for translation, whose cost grows with output length.
        new_tokens: tokens generated per chat prompt on both paths.
        finetune_train: training examples; finetune_eval: held-out examples.
        finetune_target_accuracy: validation accuracy whose time-to-reach is reported.
        finetune_max_epochs: budget for reaching it.
        app_pages: also time each demo's first answer in a fresh process.
        app_browser: also time the rendered home page in headless Chromium (when installed).
    """

    name: str
    tiny_models: bool
    single_requests: int
    batch_items: int
    max_words: int
    translation_max_words: int
    new_tokens: int
    generation_prompts: int
    finetune_train: int
    finetune_eval: int
    finetune_target_accuracy: float
    finetune_max_epochs: int
    app_pages: bool = True
    app_browser: bool = True

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny", tiny_models=True, single_requests=2, batch_items=4, max_words=12, translation_max_words=5,
        new_tokens=4, generation_prompts=2, finetune_train=24, finetune_eval=12, finetune_target_accuracy=0.5,
        finetune_max_epochs=1, app_pages=False, app_browser=False,
    ),
    "quick": Profile(
        name="quick", tiny_models=False, single_requests=6, batch_items=32, max_words=60, translation_max_words=16,
        new_tokens=16, generation_prompts=4, finetune_train=192, finetune_eval=60, finetune_target_accuracy=0.5,
        finetune_max_epochs=5,
    ),
    "full": Profile(
        name="full", tiny_models=False, single_requests=30, batch_items=256, max_words=120, translation_max_words=40,
        new_tokens=64, generation_prompts=16, finetune_train=3000, finetune_eval=600, finetune_target_accuracy=0.95,
        finetune_max_epochs=10,
    ),
}  # fmt: skip
