"""Is every model ready for a demo? What the Models page shows and ``python -m backend.models check`` runs.

For each catalogue model: downloaded (size on disk), loadable here (downloaded, in huggingface_hub's
cache, or fetchable from a reachable hub) and loaded (in the shared cache). Preparing the defaults
downloads what is missing (with progress), loads each model and runs one example through it, so a
presenter knows before going on stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backend.config import Settings, get_settings
from backend.errors import ShowcaseError
from backend.models.cache import ModelCache
from backend.models.fetch import download, hub
from backend.models.loader import LoadedModel
from backend.models.resolve import catalogue
from backend.models.resolve.plan import mirror_folder

# One short input per task, enough to prove the model answers.
_EXAMPLE_TEXT = "I love this product, it works great."


@dataclass(frozen=True)
class ModelReadiness:
    """One catalogue model's state on this server."""

    task: str
    model: str
    default: bool
    downloaded: bool
    size_mb: float
    loadable: bool
    loaded: bool

    def to_row(self) -> dict[str, object]:
        """A row for ``st.dataframe``."""
        return {
            "task": self.task,
            "model": self.model,
            "default": self.default,
            "downloaded": self.downloaded,
            "on disk (MB)": self.size_mb,
            "loadable": self.loadable,
            "loaded": self.loaded,
        }


def readiness(
    loaded: set[tuple[str, str]], settings: Settings | None = None, tasks: list[str] | None = None
) -> list[ModelReadiness]:
    """Every catalogue model of ``tasks`` (all when None) with its state; ``loaded`` holds the
    (task, model) pairs in the shared cache. Probes the hub at most once (remembered)."""
    settings = settings or get_settings()
    hub_usable = hub.hub_state(settings).usable
    rows = []
    for spec in catalogue.CATALOGUE:
        if tasks is not None and spec.task not in tasks:
            continue
        downloaded = download.is_downloaded(spec.hub_id, settings)
        size = download.folder_size(mirror_folder(spec.hub_id, settings)) if downloaded else 0
        rows.append(
            ModelReadiness(
                task=spec.task,
                model=spec.hub_id,
                default=spec.default,
                downloaded=downloaded,
                size_mb=round(size / 2**20, 1),
                loadable=downloaded or hub_usable or hub.in_hub_cache(spec.hub_id),
                loaded=(spec.task, spec.hub_id) in loaded,
            )
        )
    return rows


def initial_choice(specs: Sequence[catalogue.ModelSpec], settings: Settings | None = None) -> str | None:
    """The model a picker should start on: the first entry (the default) when it is downloaded or
    the hub can fetch it, else the first downloaded alternative, so that a host without the hub
    opens on a model that answers. Probes the hub (remembered) only when that decides it."""
    if not specs:
        return None
    settings = settings or get_settings()
    first = specs[0].hub_id
    if download.is_downloaded(first, settings):
        return first
    downloaded = next((spec.hub_id for spec in specs if download.is_downloaded(spec.hub_id, settings)), None)
    if downloaded is None or hub.hub_state(settings).usable:
        return first
    return downloaded


@dataclass(frozen=True)
class CheckResult:
    """Outcome of preparing one model: ready, or the step that failed and why."""

    task: str
    model: str
    ok: bool
    step: str  # "download", "load", "example" or "ready"
    message: str
    seconds: float
    detail: str = ""  # for whoever runs the server: commands, settings, the raw error


def run_example(task: str, loaded: LoadedModel) -> str:
    """Run one short example through ``loaded``; returns a few words of its answer.

    Raises:
        ShowcaseError: the model could not answer.
    """
    if task == catalogue.SENTIMENT:
        from backend.inference import sentiment

        result = sentiment.classify_text(loaded, _EXAMPLE_TEXT)
        return f"{result.classification.label} ({result.classification.score:.0%})"
    if task == catalogue.TRANSLATION:
        from backend.inference import translation

        spec = catalogue.find_spec(loaded.model_ref, task)
        source, target = spec.language_pair if spec and spec.language_pair else ("en", "zh")
        result = translation.translate_text(loaded, _EXAMPLE_TEXT, source, target)
        return result.translation[:60]
    if task == catalogue.TEXT_GENERATION:
        from backend.inference import text_generation

        options = text_generation.GenerationOptions(temperature=0, max_new_tokens=8)
        replies = text_generation.generate(loaded, ["Say hello."], options)
        return replies[0].reply[:60]
    if task in (catalogue.IMAGE_CLASSIFICATION, catalogue.IMAGE_CLASSIFIER_BASE):
        from PIL import Image

        from backend.inference import image_classification

        image = Image.new("RGB", (224, 224), (200, 120, 40))
        result = image_classification.classify_image(loaded, image)
        return result.prediction.top[0].label if result.prediction.top else "no label"
    if task == catalogue.EMBEDDINGS:
        vectors = loaded.model.encode([_EXAMPLE_TEXT])
        return f"{len(vectors[0])}-dimensional embedding"
    return "loaded"  # fine-tuning bases: loading them is the check


def check_model(
    spec: catalogue.ModelSpec,
    cache: ModelCache,
    progress: download.ProgressCallback | None = None,
    settings: Settings | None = None,
) -> CheckResult:
    """Download ``spec`` when missing, load it through ``cache`` and run one example; never raises."""
    settings = settings or get_settings()
    started = time.monotonic()
    step = "download"
    try:
        if not download.is_downloaded(spec.hub_id, settings) and not hub.in_hub_cache(spec.hub_id):
            download.download_model(spec.hub_id, progress, settings=settings)
        step = "load"
        loaded = cache.get(spec.task, spec.hub_id)
        step = "example"
        answer = run_example(spec.task, loaded)
    except ShowcaseError as error:
        seconds = time.monotonic() - started
        return CheckResult(spec.task, spec.hub_id, False, step, error.user_text(), seconds, error.detail)
    except Exception as error:  # noqa: BLE001 - a check reports every failure in words
        message = f"{type(error).__name__}: {error}"
        return CheckResult(spec.task, spec.hub_id, False, step, message, time.monotonic() - started)
    return CheckResult(spec.task, spec.hub_id, True, "ready", answer, time.monotonic() - started)


def check_defaults(
    cache: ModelCache,
    on_model: Callable[[int, int, catalogue.ModelSpec], None] | None = None,
    progress: download.ProgressCallback | None = None,
    settings: Settings | None = None,
    tasks: list[str] | None = None,
) -> list[CheckResult]:
    """:func:`check_model` for every default (of ``tasks``); ``on_model(index, total, spec)``
    is called before each one."""
    specs = download.specs_to_download(tasks or [], include_alternatives=False)
    results = []
    for index, spec in enumerate(specs):
        if on_model is not None:
            on_model(index, len(specs), spec)
        results.append(check_model(spec, cache, progress, settings))
    return results
