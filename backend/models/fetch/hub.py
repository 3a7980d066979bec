"""Whether the Hugging Face Hub can be reached, asked once and remembered, so a dead hub costs seconds.

Without this, a host that cannot reach the hub (corporate network, air gap, outage) while offline
mode is off waits for huggingface_hub's timeouts and retries on every click. Here the hub's
endpoint (``HF_ENDPOINT`` or the default) is probed with a short timeout; the answer is kept
process-wide (a short while when unreachable, longer when reachable), and every model action that
needs the hub asks :func:`require_hub` first, failing at once with :class:`HubUnreachableError`.
Failed loads are also remembered briefly per reference (:func:`recent_failure`), so ten clicks
cost one wait.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from backend.config import Settings, get_settings
from backend.errors import HubUnreachableError, ShowcaseError
from backend.i18n import _

# A probe answers within this; a hub slower than that is no use to a live demo anyway.
PROBE_TIMEOUT_S = 3.0
# An unreachable hub is asked again after a minute (it may come back); a reachable one after ten.
_UNREACHABLE_TTL_S = 60.0
_REACHABLE_TTL_S = 600.0
_PROBE_MAX_BYTES = 1 << 20
_TOO_MANY_REQUESTS = 429
# A failed load is answered from memory for this long, then tried again.
_FAILURE_TTL_S = 30.0
# huggingface_hub's own timeouts (documented env vars), lowered from 10 s unless set by the operator.
_CLIENT_TIMEOUTS = {"HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "10"}

REACHABLE = "reachable"
UNREACHABLE = "unreachable"
OFFLINE = "offline"


def configure_client() -> None:
    """Give huggingface_hub short timeouts (``HF_HUB_ETAG_TIMEOUT``, ``HF_HUB_DOWNLOAD_TIMEOUT``)
    unless the operator set them; works whether or not huggingface_hub was imported already."""
    for name, value in _CLIENT_TIMEOUTS.items():
        if os.environ.get(name):
            continue
        os.environ[name] = value
        constants = sys.modules.get("huggingface_hub.constants")
        if constants is not None:
            setattr(constants, name, int(value))


configure_client()


@dataclass(frozen=True)
class HubState:
    """What the app knows about the hub: reachable, unreachable (since when) or offline mode."""

    kind: str
    endpoint: str
    since: datetime
    reason: str = ""

    @property
    def usable(self) -> bool:
        """True when models can be fetched now."""
        return self.kind == REACHABLE

    def label(self) -> str:
        """Short text for the Models page: ``reachable``, ``unreachable since 07:45``, ``offline mode``."""
        if self.kind == OFFLINE:
            return _("offline mode")
        if self.kind == UNREACHABLE:
            return _("unreachable since {time}").format(time=f"{self.since:%H:%M}")
        return _("reachable")


@dataclass
class _Entry:
    state: HubState
    expires: float


_states: dict[str, _Entry] = {}
_states_lock = threading.Lock()
# One probe at a time per process: sessions asking together wait for one answer, not a storm.
_probe_lock = threading.Lock()
_probe_count = 0


def probes_made() -> int:
    """How many network probes this process has sent (tests check that answers are remembered)."""
    return _probe_count


def _ask(endpoint: str) -> str:
    """Empty when the endpoint answers like a Hugging Face Hub within ``PROBE_TIMEOUT_S``, else why not.

    The request runs in a helper thread because socket timeouts do not cover name resolution,
    which can hang far longer on an air-gapped host; past the deadline the hub counts as unreachable.
    """
    global _probe_count
    _probe_count += 1
    answer: list[str] = []
    worker = threading.Thread(target=lambda: answer.append(_request(endpoint)), name="hub probe", daemon=True)
    worker.start()
    worker.join(PROBE_TIMEOUT_S + 0.2)
    return answer[0] if answer else f"no answer from {endpoint} within {PROBE_TIMEOUT_S:.0f} s"


def _request(endpoint: str) -> str:
    """One probe request. Any HTTP answer is not enough: firewalls and proxies answer for hosts
    they block (403, 404, 502...), so the hub must list one model as JSON, as the hub and its
    mirrors do."""
    request = urllib.request.Request(f"{endpoint}/api/models?limit=1", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as response:  # noqa: S310 - endpoint from settings
            listed = json.loads(response.read(_PROBE_MAX_BYTES))
    except urllib.error.HTTPError as error:
        if error.code == _TOO_MANY_REQUESTS:
            return ""  # the hub itself, throttling: it is there
        return f"{endpoint} answered HTTP {error.code}, not like a Hugging Face Hub (a firewall or proxy?)"
    except (OSError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
    return "" if isinstance(listed, list) else f"{endpoint} does not answer like a Hugging Face Hub"


def _remember(endpoint: str, kind: str, reason: str) -> HubState:
    with _states_lock:
        previous = _states.get(endpoint)
        since = previous.state.since if previous and previous.state.kind == kind else datetime.now()
        state = HubState(kind, endpoint, since, reason)
        ttl = _REACHABLE_TTL_S if kind == REACHABLE else _UNREACHABLE_TTL_S
        _states[endpoint] = _Entry(state, time.monotonic() + ttl)
    if kind == REACHABLE and previous is not None and previous.state.kind != REACHABLE:
        with _failures_lock:
            _failures.clear()  # the hub is back: failed loads may work now
    return state


def _cached(endpoint: str) -> HubState | None:
    with _states_lock:
        entry = _states.get(endpoint)
        if entry is not None and entry.expires > time.monotonic():
            return entry.state
        return None


def hub_state(settings: Settings | None = None, refresh: bool = False) -> HubState:
    """The hub's state, probing (at most ``PROBE_TIMEOUT_S``) only when the remembered answer is stale.

    Args:
        settings: settings to use (default: the process settings); offline mode wins.
        refresh: probe now even if an answer is remembered (the Models page's "check again").
    """
    settings = settings or get_settings()
    endpoint = settings.hub_endpoint
    if settings.offline:
        return HubState(OFFLINE, endpoint, datetime.now(), "offline mode is on")
    if not refresh and (state := _cached(endpoint)):
        return state
    with _probe_lock:
        if not refresh and (state := _cached(endpoint)):
            return state  # another session probed while this one waited
        reason = _ask(endpoint)
        return _remember(endpoint, UNREACHABLE if reason else REACHABLE, reason)


def mark_unreachable(reason: str, settings: Settings | None = None) -> None:
    """Record that a real request just failed to connect, so the next action fails at once."""
    settings = settings or get_settings()
    if not settings.offline:
        _remember(settings.hub_endpoint, UNREACHABLE, reason)


def forget(settings: Settings | None = None) -> None:
    """Drop remembered hub answers and failed loads (tests; the "check again" button)."""
    with _states_lock:
        if settings is None:
            _states.clear()
        else:
            _states.pop(settings.hub_endpoint, None)
    with _failures_lock:
        _failures.clear()


def unreachable_error(model_ref: str, state: HubState) -> HubUnreachableError:
    """The error for a model that needs the hub in ``state``: what happened and what to do in the
    app, with operator detail apart. Offline mode is never told to be switched on."""
    if state.kind == OFFLINE:
        return HubUnreachableError(
            _("{model_ref} is not downloaded, and this app runs without the Hugging Face Hub.").format(
                model_ref=model_ref
            ),
            _("Pick a model marked as downloaded on the Models page, or type the name of a local model folder."),
            "Offline mode is on (LSM_OFFLINE or HF_HUB_OFFLINE). To add this model, run "
            "`python -m backend.models download` on a connected machine and copy the models folder "
            "to this server's models folder (LSM_MODELS_DIR).",
        )
    return HubUnreachableError(
        _(
            "{model_ref} is not downloaded, and the Hugging Face Hub cannot be reached from this "
            "server (since {since:%H:%M})."
        ).format(model_ref=model_ref, since=state.since),
        _("Pick a model marked as downloaded on the Models page, or type the name of a local model folder."),
        f"Hub endpoint {state.endpoint} did not answer within {PROBE_TIMEOUT_S:.0f} s ({state.reason}). "
        f"It is asked again after {_UNREACHABLE_TTL_S:.0f} s. To work without it, run "
        "`python -m backend.models download` on a connected machine, copy the models folder to this "
        "server's models folder (LSM_MODELS_DIR) and set LSM_OFFLINE=1.",
    )


def require_hub(model_ref: str, settings: Settings | None = None) -> HubState:
    """Return the hub's state when it can serve ``model_ref``; raise at once when it cannot.

    Raises:
        HubUnreachableError: offline mode is on, or the hub did not answer the (remembered) probe.
    """
    settings = settings or get_settings()
    state = hub_state(settings)
    if not state.usable:
        raise unreachable_error(model_ref, state)
    return state


def in_hub_cache(model_ref: str) -> bool:
    """True when huggingface_hub's own cache holds ``model_ref`` (it then loads without the hub)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for name in ("config.json", "modules.json"):
        found = try_to_load_from_cache(model_ref, name)
        if isinstance(found, str):
            return True
    return False


def cached_snapshot(model_ref: str) -> Path | None:
    """The folder of the snapshot huggingface_hub's cache holds for ``model_ref`` (the revision its
    ``main`` ref points at), when it has the config and every safetensors weight file; else None.

    The loader reads weights from it tensor by tensor, as from the models folder, instead of
    letting ``from_pretrained`` convert the whole model at once.
    """
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    config = try_to_load_from_cache(model_ref, "config.json")
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = _index_shards(index)
        return folder if shards and all((folder / shard).is_file() for shard in shards) else None
    return folder if (folder / "model.safetensors").is_file() else None


def _index_shards(index: Path) -> set[str] | None:
    """The weight files a sharded checkpoint's index names; None when it is unreadable or names a
    file outside its own folder."""
    try:
        shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    plain = all(isinstance(shard, str) and Path(shard).name == shard for shard in shards)
    return shards if plain else None


def fetch_weights(model_ref: str) -> Path | None:
    """Fetch ``model_ref``'s config and safetensors weights into huggingface_hub's cache (the
    files ``from_pretrained`` would fetch) and return the snapshot folder; None when the repo has
    no safetensors weights or a fetch fails, and ``from_pretrained`` then loads or reports it."""
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        hf_hub_download(model_ref, "config.json")
        try:
            index = Path(hf_hub_download(model_ref, "model.safetensors.index.json"))
        except EntryNotFoundError:
            hf_hub_download(model_ref, "model.safetensors")
        else:
            shards = _index_shards(index)
            if shards is None:
                return None
            for shard in sorted(shards):
                hf_hub_download(model_ref, shard)
    except Exception:  # noqa: BLE001 - from_pretrained tries again and says why in the app's words
        return None
    return cached_snapshot(model_ref)


def local_files_only(model_ref: str, settings: Settings | None = None) -> bool:
    """How a hub id that is not in the models folder should load: ``False`` (fetch from the hub)
    when it is reachable, ``True`` (huggingface_hub's cache only) when it is not but the cache
    holds the model.

    Raises:
        HubUnreachableError: the hub cannot serve it and no cached copy exists.
    """
    settings = settings or get_settings()
    try:
        require_hub(model_ref, settings)
    except HubUnreachableError:
        if in_hub_cache(model_ref):
            return True
        raise
    return False


# --- failed loads, remembered briefly --------------------------------------------------------

_failures: dict[str, tuple[ShowcaseError, float]] = {}
_failures_lock = threading.Lock()


def recent_failure(key: str) -> ShowcaseError | None:
    """The error a load of ``key`` failed with in the last few seconds, if any."""
    with _failures_lock:
        found = _failures.get(key)
        if found is None:
            return None
        if found[1] <= time.monotonic():
            del _failures[key]
            return None
        return found[0]


def remember_failure(key: str, error: ShowcaseError) -> ShowcaseError:
    """Keep ``error`` as the answer for ``key`` for a short while; returns it for ``raise``."""
    with _failures_lock:
        _failures[key] = (error, time.monotonic() + _FAILURE_TTL_S)
    return error


def forget_failure_of(model_ref: str) -> None:
    """Forget every failed load of ``model_ref`` (a download just made it available)."""
    with _failures_lock:
        for key in [key for key in _failures if key.split(":", 1)[-1] == model_ref]:
            del _failures[key]
