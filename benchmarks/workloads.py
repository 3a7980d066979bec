"""Synthetic, seeded inputs: sentences of mixed length, photos-sized images, chat prompts, and a
small labelled dataset a classifier can learn.

Lengths vary on purpose (short reviews to long paragraphs): real traffic is uneven, and padding
waste is what length-sorted batching saves.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

_WORDS = (
    "the model answer was quick and clear but the delivery took longer than promised while support "
    "staff explained every step with patience and the price seemed fair for what we received today "
    "our team used it for reports translation search and summaries across three offices in spring "
    "battery screen camera sound network update account payment refund order service quality design"
)
_ENGLISH = _WORDS.split(" ")
_CHINESE = list(
    "这个产品的质量很好但是物流比较慢客服耐心地解释了每一步价格合理我们团队用它做报告翻译和搜索模型回答快速清楚"
)
_POSITIVE = ["excellent", "wonderful", "love", "great", "delighted", "perfect"]
_NEGATIVE = ["terrible", "awful", "hate", "broken", "useless", "refund"]
_NEUTRAL = ["received", "ordered", "arrived", "opened", "checked", "noted"]
LABELS = ("negative", "neutral", "positive")
_PROMPT_TOPICS = [
    "Explain in two sentences what a large language model is.",
    "用一句话介绍机器翻译。",
    "Write a short, friendly reply to a customer whose parcel is late.",
    "List three uses of image classification in a factory.",
    "What is the difference between fine-tuning and prompting?",
    "请用中文写一句关于人工智能在医疗中应用的话。",
    "Summarise why batching speeds up inference on a GPU.",
    "Give one tip for writing a clear product review.",
]


def sentences(count: int, seed: int = 0, min_words: int = 4, max_words: int = 60) -> list[str]:
    """``count`` English or Chinese sentences whose lengths spread over ``min_words..max_words``."""
    rng = random.Random(seed)
    texts = []
    for index in range(count):
        length = rng.randint(min_words, max_words)
        if index % 3 == 2:
            texts.append("".join(rng.choice(_CHINESE) for _ in range(length)) + "。")
        else:
            words = [rng.choice(_ENGLISH) for _ in range(length)]
            texts.append(" ".join(words).capitalize() + ".")
    return texts


def images(
    count: int, seed: int = 0, sizes: tuple[tuple[int, int], ...] = ((640, 480), (800, 600), (480, 640))
) -> list[Image.Image]:
    """``count`` RGB images of photo-like sizes: a smooth gradient plus noise, so resizing works."""
    rng = np.random.default_rng(seed)
    result = []
    for index in range(count):
        width, height = sizes[index % len(sizes)]
        x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
        y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        colour = rng.random(3, dtype=np.float32)[None, None, :]
        base = (x * colour + y * (1 - colour)) * 200
        noise = rng.normal(0, 20, (height, width, 3))
        result.append(Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB"))
    return result


def prompts(count: int) -> list[str]:
    """``count`` chat prompts in English and Chinese, cycling through a fixed list."""
    return [_PROMPT_TOPICS[i % len(_PROMPT_TOPICS)] for i in range(count)]


def labelled_texts(count: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """A learnable three-class dataset: the label is given by one sentiment keyword per text.

    Filler words carry no signal, so a model reaches high accuracy only by learning the keywords;
    classes are balanced.
    """
    rng = random.Random(seed)
    keywords = (_NEGATIVE, _NEUTRAL, _POSITIVE)
    texts, labels = [], []
    for index in range(count):
        label = index % len(LABELS)
        words = [rng.choice(_ENGLISH) for _ in range(rng.randint(6, 20))]
        words.insert(rng.randint(0, len(words)), rng.choice(keywords[label]))
        texts.append(" ".join(words))
        labels.append(label)
    order = list(range(count))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


def tokenizer_corpus() -> list[str]:
    """Text the stand-in tokenizers are trained on: every word the workloads use."""
    words = [*_ENGLISH, *_POSITIVE, *_NEGATIVE, *_NEUTRAL]
    return [
        " ".join(words),
        " ".join(words).capitalize() + ".",
        "".join(_CHINESE) + "。",
        *_PROMPT_TOPICS,
        *sentences(200, seed=1234),
    ]
