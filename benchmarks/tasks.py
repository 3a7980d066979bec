"""Per-task adapters: how our backend path and the plain pipeline baseline run one workload.

Ours is the demo's own code: the single request is the call the page makes (``classify_text``,
``translate_text``, ``classify_image``, ``stream_reply``) and the batch is the module's batch
function with its default batch size. The baseline is what a user would write:
``transformers.pipeline(task, model=folder)`` called item by item with default settings (for
translation, which transformers 5 dropped from ``pipeline``, the model card's
``from_pretrained`` + ``generate`` recipe).

Generation needs one exception to "default settings": stand-in models have random weights and
never emit an end token, so each baseline call is capped at exactly the number of tokens our path
produced for the same input (``max_new_tokens``), and translation decodes greedily on both paths
(the demo's default; the OPUS-MT config's default is 4 beams). Without the cap the baseline would
run to the model's 512-token limit and the comparison would be of different work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from backend.inference import image_classification, sentiment, text_generation, translation
from backend.inference.chat_prompt import ChatMessage
from backend.models.loader import LoadedModel
from backend.models.resolve import catalogue
from benchmarks import workloads
from benchmarks.profiles import Profile

# One figure per input: 1 for a classification, new tokens for generation.
Work = list[int]
# Time to the first streamed token of each chat request, read by the inference benchmark: the
# chat page streams, so this is the wait a user sees, while the pipeline returns whole replies.
FIRST_TOKEN_MS: list[float] = []


@dataclass(frozen=True)
class TaskAdapter:
    """How to benchmark one demo task.

    ``run_single_*`` handle one input; ``run_batch_*`` a list. Baseline runners receive the
    per-input token counts our path produced (``caps``) so generation does equal work.
    """

    task: str
    pipeline_task: str
    unit: str  # what throughput counts: texts, sentences, images, tokens
    ours_settings: str
    baseline_settings: str
    make_inputs: Callable[[Profile, int, int], list[Any]]
    run_single_ours: Callable[[LoadedModel, Any], int]
    run_batch_ours: Callable[[LoadedModel, list[Any]], Work]
    run_single_baseline: Callable[[Any, Any, int], int]
    generates: bool = False
    # Builds the baseline from (folder, device, dtype=...); None means transformers.pipeline(pipeline_task, ...).
    make_baseline: Callable[..., Any] | None = None


# --- sentiment -------------------------------------------------------------------------------


def _sentiment_inputs(profile: Profile, seed: int, count: int) -> list[str]:
    return workloads.sentences(count, seed=seed, max_words=profile.max_words)


def _sentiment_single(loaded: LoadedModel, text: str) -> int:
    sentiment.classify_text(loaded, text)
    return 1


def _sentiment_batch(loaded: LoadedModel, texts: list[str]) -> Work:
    return [1 for _ in sentiment.classify(loaded, texts)]


def _sentiment_baseline(pipe: Any, text: str, cap: int) -> int:
    pipe(text)
    return 1


# --- translation -----------------------------------------------------------------------------


def _translation_inputs(profile: Profile, seed: int, count: int) -> list[str]:
    # English sentences only: the en→zh model is the one benchmarked.
    texts = workloads.sentences(count * 3, seed=seed, max_words=profile.translation_max_words)
    english = [text for text in texts if text.isascii()]
    return english[:count]


def _translation_single(loaded: LoadedModel, text: str) -> int:
    result = translation.translate_text(loaded, text, "en", "zh")
    return sum(item.output_tokens for item in result.sentences)


def _translation_batch(loaded: LoadedModel, texts: list[str]) -> Work:
    return [item.output_tokens for item in translation.translate(loaded, texts)]


class PlainTranslator:
    """The translation baseline: transformers 5 removed the ``translation`` pipeline, so this is
    the model card's recipe (tokenizer, ``generate``, decode) called one sentence at a time."""

    def __init__(self, folder: str, device: str, dtype: Any = None) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=dtype).to(device)
        self.device = device

    def __call__(self, text: str, **generate_kwargs: Any) -> str:
        inputs = self.tokenizer(text, return_tensors="pt").to(self.device)
        output = self.model.generate(**inputs, **generate_kwargs)
        return self.tokenizer.decode(output[0], skip_special_tokens=True)


def _translation_baseline(pipe: Any, text: str, cap: int) -> int:
    pipe(text, max_new_tokens=max(cap, 1), num_beams=1)
    return cap


# --- image classification --------------------------------------------------------------------


def _image_inputs(profile: Profile, seed: int, count: int) -> list[Any]:
    # The demo refuses more images per call than it can show.
    return workloads.images(min(count, image_classification.MAX_IMAGES), seed=seed)


def _image_single(loaded: LoadedModel, image: Any) -> int:
    image_classification.classify_image(loaded, image)
    return 1


def _image_batch(loaded: LoadedModel, images: list[Any]) -> Work:
    return [1 for _ in image_classification.classify_images(loaded, images)]


def _image_baseline(pipe: Any, image: Any, cap: int) -> int:
    pipe(image)
    return 1


# --- text generation -------------------------------------------------------------------------


def _chat_options(profile_tokens: int) -> text_generation.GenerationOptions:
    # The chat page's default sampling, with the benchmark's token budget.
    return text_generation.GenerationOptions(max_new_tokens=profile_tokens)


def _generation_inputs(profile: Profile, seed: int, count: int) -> list[tuple[str, int]]:
    return [(prompt, profile.new_tokens) for prompt in workloads.prompts(count)]


def _generation_single(loaded: LoadedModel, item: tuple[str, int]) -> int:
    prompt, new_tokens = item
    stream = text_generation.stream_reply(loaded, [ChatMessage("user", prompt)], _chat_options(new_tokens))
    for _ in stream:
        pass
    assert stream.result is not None
    if stream.result.first_token_ms > 0:  # 0 when no token decoded to text (stand-in weights)
        FIRST_TOKEN_MS.append(stream.result.first_token_ms)
    return stream.result.new_tokens


def _generation_batch(loaded: LoadedModel, items: list[tuple[str, int]]) -> Work:
    new_tokens = items[0][1]
    replies = text_generation.generate(loaded, [prompt for prompt, _ in items], _chat_options(new_tokens))
    return [reply.new_tokens for reply in replies]


def _generation_baseline(pipe: Any, item: tuple[str, int], cap: int) -> int:
    # Token ids, not text: a stand-in's random ids beyond its small tokenizer decode to nothing.
    # Skipping the decode favours the baseline slightly.
    prompt, _ = item
    messages = [{"role": "user", "content": prompt}]
    output = pipe(messages, max_new_tokens=max(cap, 1), return_tensors=True)
    text = pipe.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_tokens = len(pipe.tokenizer(text, add_special_tokens=False)["input_ids"])
    return len(output[0]["generated_token_ids"]) - prompt_tokens


ADAPTERS: dict[str, TaskAdapter] = {
    catalogue.SENTIMENT: TaskAdapter(
        catalogue.SENTIMENT, "text-classification", "texts",
        f"sentiment.classify (length-sorted batches of {sentiment.DEFAULT_BATCH_SIZE})",
        "pipeline('text-classification', dtype=ours), one text per call",
        _sentiment_inputs, _sentiment_single, _sentiment_batch, _sentiment_baseline,
    ),
    catalogue.TRANSLATION: TaskAdapter(
        catalogue.TRANSLATION, "", "sentences",
        f"translation.translate, greedy (length-sorted batches of {translation.DEFAULT_BATCH_SIZE})",
        "from_pretrained(dtype=ours) + generate, one sentence per call (transformers 5 has no translation "
        "pipeline), greedy, max_new_tokens = ours",
        _translation_inputs, _translation_single, _translation_batch, _translation_baseline, generates=True,
        make_baseline=PlainTranslator,
    ),
    catalogue.IMAGE_CLASSIFICATION: TaskAdapter(
        catalogue.IMAGE_CLASSIFICATION, "image-classification", "images",
        f"image_classification.classify_images (size-sorted batches of {image_classification.DEFAULT_BATCH_SIZE})",
        "pipeline('image-classification', dtype=ours), one image per call",
        _image_inputs, _image_single, _image_batch, _image_baseline,
    ),
    catalogue.TEXT_GENERATION: TaskAdapter(
        catalogue.TEXT_GENERATION, "text-generation", "tokens",
        f"stream_reply (single) / text_generation.generate (batches of {text_generation.DEFAULT_BATCH_SIZE}), "
        "page default sampling",
        "pipeline('text-generation') on chat messages, one prompt per call, default sampling, max_new_tokens = ours",
        _generation_inputs, _generation_single, _generation_batch, _generation_baseline, generates=True,
    ),
}  # fmt: skip


def run_batch_baseline(adapter: TaskAdapter, pipe: Any, items: Sequence[Any], caps: Sequence[int]) -> Work:
    """The baseline over a batch: one pipeline call per input, in order."""
    return [adapter.run_single_baseline(pipe, item, cap) for item, cap in zip(items, caps, strict=True)]
