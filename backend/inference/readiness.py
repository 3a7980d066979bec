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

from backend import model_registry
from backend.config import Settings, get_settings
from backend.errors import ShowcaseError
from backend.i18n import N_, _, ngettext
from backend.models import availability, warm
from backend.models.cache import ModelCache
from backend.models.fetch import download, hub
from backend.models.loader import LoadedModel
from backend.models.resolve import catalogue, endpoints, plan
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
        """A row for ``st.dataframe``, with the column names a presenter reads."""
        return {
            N_("Task"): catalogue.task_title(self.task),
            N_("Model"): self.model,
            N_("Default"): self.default,
            N_("Downloaded"): self.downloaded,
            N_("On disk (MB)"): self.size_mb,
            N_("Can load now"): self.loadable,
            N_("Loaded"): self.loaded,
        }


def readiness(
    loaded: set[tuple[str, str]], settings: Settings | None = None, tasks: list[str] | None = None
) -> list[ModelReadiness]:
    """Every catalogue model of ``tasks`` (all when None) with its state, those that can answer now
    first (loaded, then downloaded, then loadable from the hub); ``loaded`` holds the (task, model)
    pairs in the shared cache. Probes the hub at most once (remembered)."""
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
    return sorted(rows, key=lambda row: (not row.loaded, not row.downloaded, not row.loadable))


# The demos, by the task their models serve, as the pages name them.
DEMOS = {
    catalogue.SENTIMENT: N_("Sentiment"),
    catalogue.TRANSLATION: N_("Translation"),
    catalogue.IMAGE_CLASSIFICATION: N_("Images"),
    catalogue.TEXT_GENERATION: N_("Chat"),
    catalogue.EMBEDDINGS: N_("Search"),
}
LOADED = "loaded"
READY = "ready"
DOWNLOADS = "downloads on first use"
WARMING = "warming up"
MISSING = "missing"


@dataclass(frozen=True)
class DemoReadiness:
    """Whether one demo can answer now, on which model, or why not.

    Attributes:
        task: the task its models serve.
        demo: the demo's name on the pages.
        model: the reference it answers on now (or will once warm / downloaded); "" when none can load.
        state: ``LOADED``, ``READY`` (downloaded), ``DOWNLOADS`` (the hub answers), ``WARMING`` or ``MISSING``.
        reason: why, in words (for ``MISSING``: what is missing).
    """

    task: str
    demo: str
    model: str
    state: str
    reason: str

    @property
    def can_answer(self) -> bool:
        """Answers on the first click (a download first, with a progress bar, where the hub answers)."""
        return self.state in (LOADED, READY, DOWNLOADS)


def _candidates(task: str, owner: str, settings: Settings) -> list[str]:
    served = [endpoints.endpoint_ref(endpoint) for endpoint in endpoints.endpoints_for(task, settings)]
    listed = [spec.hub_id for spec in catalogue.models_for(task)]
    local = [model.path for model in model_registry.list_local_models(task, owner=owner, settings=settings)]
    return served + listed + local


def demo_readiness(
    loaded: set[tuple[str, str]], settings: Settings | None = None, owner: str = "", tasks: list[str] | None = None
) -> list[DemoReadiness]:
    """Each demo's state on this server, counting every model that can serve it (the catalogue's,
    configured model servers, fine-tuned and hand-placed folders), not only the default.

    Args:
        loaded: the (task, model) pairs in the shared cache.
        settings: settings to use; the hub is probed at most once (remembered).
        owner: whose fine-tuned models count ("" the shared workspace).
        tasks: the demos' tasks to report (default: every demo).
    """
    settings = settings or get_settings()
    states = []
    for task, demo in DEMOS.items():
        if tasks is not None and task not in tasks:
            continue
        refs = _candidates(task, owner, settings)
        states.append(_demo_state(task, demo, refs, loaded, settings))
    return states


def _demo_state(
    task: str, demo: str, refs: list[str], loaded: set[tuple[str, str]], settings: Settings
) -> DemoReadiness:
    if (ref := next((ref for ref in refs if (task, ref) in loaded), None)) is not None:
        return DemoReadiness(task, demo, ref, LOADED, _("loaded"))
    if (ref := next((ref for ref in refs if warm.is_warming(task, ref)), None)) is not None:
        return DemoReadiness(task, demo, ref, WARMING, _("it started loading with the server"))
    found = {ref: availability.model_availability(ref, settings) for ref in refs}
    if (ref := next((ref for ref, state in found.items() if state.is_here), None)) is not None:
        return DemoReadiness(task, demo, ref, READY, found[ref].reason)
    if (ref := next((ref for ref, state in found.items() if state.can_load), None)) is not None:
        return DemoReadiness(task, demo, ref, DOWNLOADS, found[ref].reason)
    reason = _("no model is downloaded, and {hub}").format(hub=availability.hub_words(hub.hub_state(settings)))
    return DemoReadiness(task, demo, "", MISSING, reason)


def summary_line(states: Sequence[DemoReadiness], settings: Settings | None = None, name_models: bool = True) -> str:
    """One line for Home and the sidebar: which demos answer now and why the others cannot.

    ``name_models`` False while a blind vote is open: a demo "on" one of its hidden models would
    look like a reveal, so no demo's model is named.
    """
    ready = [state for state in states if state.can_answer]
    waiting = [state for state in states if not state.can_answer]
    if not waiting:
        return ngettext("The demo can answer now.", "All {count} demos can answer now.", len(states)).format(
            count=len(states)
        )
    parts = []
    if ready and not name_models:
        parts.append(_("Ready now: {demos}.").format(demos=_(", ").join(_(s.demo) for s in ready)))
    elif ready:
        on = "; ".join(_("{demo} on {model}").format(demo=_(s.demo), model=_short(s.model, settings)) for s in ready)
        parts.append(_("Ready now: {demos}.").format(demos=on))
    else:
        parts.append(_("No demo can answer now."))
    by_reason: dict[str, list[str]] = {}
    for state in waiting:
        by_reason.setdefault(state.reason if state.state == MISSING else WARMING, []).append(state.demo)
    for reason, demos in by_reason.items():
        parts.append(_("{demos}: {reason}.").format(demos=_(", ").join(_(demo) for demo in demos), reason=reason))
    return " ".join(parts)


def _short(model_ref: str, settings: Settings | None) -> str:
    spec = catalogue.find_spec(model_ref)
    return spec.title if spec else model_registry.display_name(model_ref, settings)


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
    return check_ref(spec.task, spec.hub_id, cache, progress, settings)


def check_ref(
    task: str,
    model_ref: str,
    cache: ModelCache,
    progress: download.ProgressCallback | None = None,
    settings: Settings | None = None,
) -> CheckResult:
    """:func:`check_model` for any reference that can serve ``task`` (a fine-tuned folder too)."""
    settings = settings or get_settings()
    started = time.monotonic()
    step = "download"
    try:
        if not availability.model_availability(model_ref, settings).is_here:
            download.download_model(model_ref, progress, settings=settings)
        step = "load"
        loaded = cache.get(task, model_ref)
        step = "example"
        answer = run_example(task, loaded)
    except ShowcaseError as error:
        seconds = time.monotonic() - started
        return CheckResult(task, model_ref, False, step, error.user_text(), seconds, error.detail)
    except Exception as error:  # noqa: BLE001 - a check reports every failure in words
        message = f"{type(error).__name__}: {error}"
        return CheckResult(task, model_ref, False, step, message, time.monotonic() - started)
    return CheckResult(task, model_ref, True, "ready", answer, time.monotonic() - started)


def result_line(result: CheckResult) -> str:
    """``Sentiment: ready on <model> · positive (98%) · 1.2 s`` or ``Images: not ready · <what is missing>``."""
    demo = DEMOS.get(result.task, result.task)
    if result.ok:
        return f"{demo}: ready on {_short(result.model, None)} · {result.message} · {result.seconds:.1f} s"
    on = f" on {_short(result.model, None)}" if result.model else ""
    return f"{demo}: not ready{on} · {result.step}: {result.message}"


def check_demos(
    cache: ModelCache,
    on_demo: Callable[[int, int, DemoReadiness], None] | None = None,
    progress: download.ProgressCallback | None = None,
    settings: Settings | None = None,
    tasks: list[str] | None = None,
    owner: str = "",
) -> list[CheckResult]:
    """Get every demo (of ``tasks``) ready on the model it would answer on now (see
    :func:`demo_readiness`: a loaded or downloaded one first, else the default from the hub): download
    it when needed, load it and run one example. A demo no model can serve fails at "download" with
    what is missing. ``on_demo(index, total, state)`` is called before each one; never raises."""
    settings = settings or get_settings()
    loaded = {(model.task, model.model_ref) for model in cache.loaded()}
    states = demo_readiness(loaded, settings, owner, tasks)
    results = []
    for index, state in enumerate(states):
        if on_demo is not None:
            on_demo(index, len(states), state)
        if state.state == MISSING:
            detail = plan.operator_detail(settings)
            missing = f"{state.reason[:1].upper()}{state.reason[1:]}."
            results.append(CheckResult(state.task, "", False, "download", missing, 0.0, detail))
            continue
        if state.state == WARMING:
            warm.wait(state.task, state.model)
        results.append(check_ref(state.task, state.model, cache, progress, settings))
    return results


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
