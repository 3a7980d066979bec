"""Warm start: load chosen tasks' default models in the background once per process, as Spaces do.

The setting ``LSM_WARM_TASKS`` (comma-separated task names, or ``all``) names the tasks. The UI starts
the warm-up with the process' first page run; a page that needs a model being warmed shows
"warming up" and waits for that load instead of starting a second one.
"""

from __future__ import annotations

import logging
import threading

from backend.config import Settings, get_settings
from backend.errors import ShowcaseError
from backend.models.cache import ModelCache
from backend.models.fetch import download, hub
from backend.models.resolve import catalogue

_log = logging.getLogger(__name__)

_warming: dict[tuple[str, str], threading.Event] = {}
_errors: dict[tuple[str, str], str] = {}
_lock = threading.Lock()
_started = False


def warm_specs(settings: Settings) -> list[catalogue.ModelSpec]:
    """The defaults of the tasks named in ``settings.warm_tasks`` (unknown names are logged and skipped)."""
    names = list(settings.warm_tasks)
    if any(name.lower() == "all" for name in names):
        return download.specs_to_download([], include_alternatives=False)
    known = [name for name in names if name in catalogue.TASKS]
    for name in set(names) - set(known):
        _log.warning("LSM_WARM_TASKS names an unknown task %r; known: %s", name, ", ".join(catalogue.TASKS))
    return download.specs_to_download(known, include_alternatives=False) if known else []


def _warm(specs: list[catalogue.ModelSpec], cache: ModelCache, settings: Settings) -> None:
    for spec in specs:
        key = (spec.task, spec.hub_id)
        try:
            if not download.is_downloaded(spec.hub_id, settings) and hub.hub_state(settings).usable:
                download.download_model(spec.hub_id, settings=settings)
            cache.get(spec.task, spec.hub_id)
        except ShowcaseError as error:
            _errors[key] = error.user_text()
            _log.warning("Warm start of %s failed: %s %s", spec.hub_id, error.user_text(), error.detail)
        except Exception:  # noqa: BLE001 - a failed warm-up must not take the server down
            _errors[key] = "failed (see the server log)"
            _log.exception("Warm start of %s failed", spec.hub_id)
        finally:
            _warming[key].set()


def start(cache: ModelCache, settings: Settings | None = None) -> list[tuple[str, str]]:
    """Start warming the configured models in one background thread, once per process.

    Returns:
        The (task, model) pairs being warmed (empty when nothing is configured or it already ran).
    """
    global _started
    settings = settings or get_settings()
    with _lock:
        if _started:
            return []
        _started = True
        specs = warm_specs(settings)
        for spec in specs:
            _warming[(spec.task, spec.hub_id)] = threading.Event()
    if specs:
        threading.Thread(target=_warm, args=(specs, cache, settings), name="warm start", daemon=True).start()
    return [(spec.task, spec.hub_id) for spec in specs]


def is_warming(task: str, model_ref: str) -> bool:
    """True while the warm start is still loading (or has yet to load) this model."""
    event = _warming.get((task, model_ref))
    return event is not None and not event.is_set()


def wait(task: str, model_ref: str, timeout: float | None = None) -> bool:
    """Wait for the warm start of this model; True when it finished (loaded or failed)."""
    event = _warming.get((task, model_ref))
    return True if event is None else event.wait(timeout)


def warm_error(task: str, model_ref: str) -> str:
    """Why the warm start of this model failed, or empty."""
    return _errors.get((task, model_ref), "")


def _reset_for_tests() -> None:
    global _started
    with _lock:
        _started = False
        _warming.clear()
        _errors.clear()
