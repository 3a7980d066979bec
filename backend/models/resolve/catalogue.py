"""The model catalogue: for each task, a default model and vetted alternatives.

The models are data (``data/models/catalogue.toml``), read and checked once, here, into
``ModelSpec``s. Defaults are chosen to run on Streamlit Community Cloud's CPU (2.7 GB in all) and
to cover English and Chinese, since the source material is Chinese. Sizes are the weights' memory
at the dtype the runtime loads them with on CPU (float32 unless ``cpu_dtype`` says otherwise).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.config import PROJECT_ROOT
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

CATALOGUE_PATH = PROJECT_ROOT / "data" / "models" / "catalogue.toml"

# The tasks as people name them (the ids stay in addresses, settings and stored records).
TASK_TITLES: dict[str, str] = {
    SENTIMENT: N_("Sentiment"),
    TRANSLATION: N_("Translation"),
    IMAGE_CLASSIFICATION: N_("Image classification"),
    TEXT_GENERATION: N_("Text generation"),
    EMBEDDINGS: N_("Embeddings"),
    TEXT_CLASSIFIER_BASE: N_("Text classifier bases"),
    IMAGE_CLASSIFIER_BASE: N_("Image classifier bases"),
}


def task_title(task: str) -> str:
    """A catalogue task in the current language (an id not in the catalogue as it is)."""
    return _(TASK_TITLES[task]) if task in TASK_TITLES else task


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
    # English, shown translated (``python -m backend.i18n extract`` reads it from the catalogue file).
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


def _problems(spec: ModelSpec) -> list[str]:
    """What is wrong with a spec read from the file (nothing, for a valid one)."""
    texts = (spec.task, spec.hub_id, spec.title, spec.licence, spec.description)
    number = spec.params_millions
    failed = {
        f"unknown task {spec.task!r}; known tasks: {', '.join(TASKS)}": spec.task not in TASKS,
        "task, hub_id, title, licence and description must be non-empty strings": not all(
            isinstance(text, str) and text.strip() for text in texts
        ),
        "params_millions must be a positive number": isinstance(number, bool)
        or not isinstance(number, int | float)
        or number <= 0,
        "languages and language_pair must be lists of language codes": not all(
            isinstance(codes, tuple) and all(isinstance(code, str) and code for code in codes)
            for codes in (spec.languages, spec.language_pair)
        ),
        "default must be true or false": not isinstance(spec.default, bool),
        f"cpu_dtype must be one of {', '.join(_BYTES_PER_PARAM)}": spec.cpu_dtype not in _BYTES_PER_PARAM,
        "language_pair names a translation's two languages, and only a translation's": len(spec.language_pair)
        != (2 if spec.task == TRANSLATION else 0),
    }
    return [message for message, wrong in failed.items() if wrong]


def _spec(row: dict[str, Any]) -> ModelSpec:
    """One ``[[model]]`` table as a ``ModelSpec``; a ``ValueError`` says what is wrong with it."""
    spec_fields = dataclasses.fields(ModelSpec)
    required = {
        item.name
        for item in spec_fields
        if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
    }
    unknown = sorted(set(row) - {item.name for item in spec_fields})
    missing = sorted(required - set(row))
    if unknown or missing:
        raise ValueError(f"unknown keys {unknown}, missing keys {missing}")
    # TOML arrays arrive as lists; a spec holds tuples (it is frozen and hashable).
    spec = ModelSpec(**{name: tuple(value) if isinstance(value, list) else value for name, value in row.items()})
    problems = _problems(spec)
    if problems:
        raise ValueError("; ".join(problems))
    return spec


def read_catalogue(path: Path = CATALOGUE_PATH) -> tuple[ModelSpec, ...]:
    """The catalogue file's models, each checked (``data/models/catalogue.toml`` by default).

    Raises:
        ValueError: a model that is not valid (the message names it and says why), or one listed
            twice for the same task.
    """
    with path.open("rb") as source:
        rows = tomllib.load(source).get("model", [])
    specs: list[ModelSpec] = []
    for number, row in enumerate(rows, start=1):
        try:
            specs.append(_spec(row))
        except ValueError as error:
            raise ValueError(f"{path.name}, model {number} ({row.get('hub_id', '?')}): {error}") from None
    seen = [(spec.task, spec.hub_id) for spec in specs]
    twice = sorted({entry for entry in seen if seen.count(entry) > 1})
    if twice:
        raise ValueError(f"{path.name} lists these models twice: {twice}")
    return tuple(specs)


CATALOGUE: tuple[ModelSpec, ...] = read_catalogue()


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
