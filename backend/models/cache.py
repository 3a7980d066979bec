"""A process-wide, memory-bounded cache of loaded models shared by every user session.

Loading past the budget evicts the least recently used models first. Each key has its own load
lock, so two sessions asking for the same model at once load it once, while a different model can
load beside it.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from backend.config import Settings, get_settings
from backend.errors import InsufficientMemoryError
from backend.i18n import _
from backend.models.loader import LoadedModel, load_from_plan
from backend.models.memory import free_accelerator_memory
from backend.models.resolve.device import DeviceInfo, choose_device
from backend.models.resolve.plan import LoadPlan, plan_load

Loader = Callable[[LoadPlan], LoadedModel]


@dataclass(frozen=True)
class CachedModel:
    """What the sidebar lists about one cached model."""

    task: str
    model_ref: str
    device: str
    memory_mb: float
    # Times this process loaded it: more than one means it was evicted (or unloaded) and loaded again.
    loads: int = 1


class ModelCache:
    """Least-recently-used cache of ``LoadedModel`` keyed by (task, model reference).

    ``device`` is chosen once, here, and every model of the cache loads onto it.
    """

    def __init__(
        self,
        budget_bytes: int,
        loader: Loader | None = None,
        settings: Settings | None = None,
        device: DeviceInfo | None = None,
    ) -> None:
        self.budget_bytes = budget_bytes
        self._settings = settings or get_settings()
        self.device = device or choose_device(self._settings.device)
        self._loader = loader or (lambda plan: load_from_plan(plan, self._settings))
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[tuple[str, str], threading.Lock] = {}
        self._load_counts: Counter[tuple[str, str]] = Counter()

    def get(self, task: str, model_ref: str) -> LoadedModel:
        """The cached model, loading it (and evicting older ones) when absent.

        Raises:
            InsufficientMemoryError: the model alone is larger than the budget.
            ShowcaseError: whatever ``plan_load`` or the loader raises (offline, unsafe, corrupt...).
        """
        return self._get(task, model_ref, lambda: plan_load(task, model_ref, self._settings, self.device))

    def get_planned(self, plan: LoadPlan) -> LoadedModel:
        """:meth:`get` for a reference the caller already resolved (``backend.models.acquire``):
        a miss loads ``plan`` as it is, so nothing is resolved twice."""
        key = (plan.task, plan.ref)
        with self._lock:
            held = self._models.get(key)
            # The ``auto`` engine's check decided since this model loaded: load it on the new path
            # (a reply still running keeps its own reference to the old one).
            if held is not None and getattr(held, "checked", plan.checked) != plan.checked:
                del self._models[key]
        return self._get(plan.task, plan.ref, lambda: plan)

    def _get(self, task: str, model_ref: str, make_plan: Callable[[], LoadPlan]) -> LoadedModel:
        key = (task, model_ref)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            load_lock = self._load_locks.setdefault(key, threading.Lock())
        with load_lock:
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key]
            plan = make_plan()
            self._check_fits(model_ref, plan.estimated_bytes)
            self._evict_until_free(plan.estimated_bytes)
            loaded = self._loader(plan)
            with self._lock:
                self._models[key] = loaded
                self._load_counts[key] += 1
            self._check_fits(model_ref, loaded.memory_bytes, drop_key=key)
            self._evict_until_free(0, keep=key)
            return loaded

    def _check_fits(self, model_ref: str, needed: int, drop_key: tuple[str, str] | None = None) -> None:
        if needed <= self.budget_bytes:
            return
        if drop_key is not None:
            self.evict(*drop_key)
        raise InsufficientMemoryError(
            _(
                "{model_ref} needs about {needed:,.0f} MB, more than the model memory budget of {budget_bytes:,.0f} MB."
            ).format(model_ref=model_ref, needed=needed / 2**20, budget_bytes=self.budget_bytes / 2**20),
            _("Pick a smaller model or raise LSM_MODEL_MEMORY_MB (setting model_memory_mb)."),
        )

    def _evict_until_free(self, needed: int, keep: tuple[str, str] | None = None) -> None:
        evicted = False
        with self._lock:
            while self._models and self.used_bytes() + needed > self.budget_bytes:
                oldest = next(iter(self._models))
                if oldest == keep:
                    break
                del self._models[oldest]
                evicted = True
        if evicted:
            free_accelerator_memory()

    def evict(self, task: str, model_ref: str) -> bool:
        """Drop one model; True if it was cached."""
        with self._lock:
            removed = self._models.pop((task, model_ref), None) is not None
        if removed:
            free_accelerator_memory()
        return removed

    def clear(self) -> None:
        """Drop every model."""
        with self._lock:
            self._models.clear()
        free_accelerator_memory()

    def used_bytes(self) -> int:
        """Weight memory of the cached models."""
        return sum(model.memory_bytes for model in self._models.values())

    def loaded(self) -> list[CachedModel]:
        """Cached models, most recently used last."""
        with self._lock:
            return [
                CachedModel(
                    m.task, m.model_ref, m.device.name, round(m.memory_bytes / 2**20, 1), self._load_counts[key]
                )
                for key, m in self._models.items()
            ]


_shared: ModelCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> ModelCache:
    """The process-wide cache (the UI wraps it in st.cache_resource; workers use it directly)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            settings = get_settings()
            _shared = ModelCache(settings.model_memory_mb * 2**20, settings=settings)
        return _shared
