"""Models served by an OpenAI-compatible inference server instead of this process.

The operator lists servers in the settings (``Settings.endpoints``: ``[showcase.endpoints.<name>]``
or ``LSM_ENDPOINTS``). A model reference ``endpoint:<name>`` picks one; any other reference is a hub
id or a folder as before, so a URL typed into a model box is never called (no server-side request
forgery): the only addresses this app ever connects to are the ones the operator wrote.

``connect`` gives a ``RemoteModel``: the "loaded model" of an endpoint, with the same fields the
pages and the footer read from a ``LoadedModel`` (task, model_ref, device, memory_bytes...). Its
``device`` reads "served by <name>", so every run footer says where it ran. The calls themselves
(chat, embeddings) live in ``backend.inference.remote``, with the ``openai`` client's typed errors
turned into messages.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from backend.config import Endpoint, Settings, get_settings
from backend.errors import ModelUnavailableError
from backend.i18n import _
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo
from backend.server_paths import shown_path

PREFIX = "endpoint:"
REMOTE = "remote"  # DeviceInfo.kind of every endpoint


def is_endpoint_ref(model_ref: str | None) -> bool:
    """Whether ``model_ref`` names a configured-server model (``endpoint:<name>``)."""
    return (model_ref or "").strip().startswith(PREFIX)


def endpoint_ref(endpoint: Endpoint) -> str:
    """The model reference that picks ``endpoint``."""
    return f"{PREFIX}{endpoint.name}"


def endpoints_for(task: str, settings: Settings | None = None) -> list[Endpoint]:
    """The configured endpoints that serve ``task``, in the operator's order."""
    return [endpoint for endpoint in (settings or get_settings()).endpoints if endpoint.task == task]


def find_endpoint(model_ref: str, settings: Settings | None = None) -> Endpoint | None:
    """The endpoint ``model_ref`` names, or None when it names none."""
    name = (model_ref or "").strip().removeprefix(PREFIX)
    return next((e for e in (settings or get_settings()).endpoints if e.name == name), None)


def require_endpoint(task: str | None, model_ref: str, settings: Settings | None = None) -> Endpoint:
    """The endpoint ``model_ref`` names, for ``task`` (None: for any task).

    Raises:
        ModelUnavailableError: no endpoint of that name is configured, or it serves another task.
    """
    settings = settings or get_settings()
    endpoint = find_endpoint(model_ref, settings)
    if endpoint is None:
        raise ModelUnavailableError(
            _("No model server of that name is configured on this server."),
            _("Pick a model from the list."),
            "Model servers are configured in `[showcase.endpoints.<name>]` of .streamlit/secrets.toml "
            "or in LSM_ENDPOINTS.",
        )
    if task is not None and endpoint.task != task:
        raise ModelUnavailableError(
            _("The model server {name} serves {task}, not {task2}.").format(
                name=endpoint.name, task=catalogue.task_title(endpoint.task), task2=catalogue.task_title(task)
            ),
            _("Pick a model from the list."),
        )
    return endpoint


def shown_model(endpoint: Endpoint, settings: Settings | None = None) -> str:
    """The served model's name as users see it: some servers (``transformers serve``) name a
    model by its folder, which is shown by its last part, never as a path on that machine."""
    model = endpoint.model
    return shown_path(model, settings) if model.startswith(("/", "~")) else model


def device_of(endpoint: Endpoint) -> DeviceInfo:
    """What the footer and the sidebar say about where an endpoint's model runs."""
    return DeviceInfo(REMOTE, "", f"served by {endpoint.name}", None)


@dataclass
class RemoteModel:
    """An endpoint's model, ready for requests: what ``LoadedModel`` is for an in-process model.

    ``client`` is an ``openai.OpenAI`` client (thread-safe, with its own connection pool), built
    once per endpoint and reused by every session.
    """

    task: str
    model_ref: str
    endpoint: Endpoint
    client: Any = field(repr=False)
    device: DeviceInfo
    dtype: str = REMOTE
    memory_bytes: int = 0  # nothing is held in this process
    load_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def source(self) -> str:
        """The served model's name on its server."""
        return self.endpoint.model


_clients: dict[Endpoint, Any] = {}
_clients_lock = threading.Lock()


def _client(endpoint: Endpoint) -> Any:
    # One client per endpoint settings (a changed key or URL gets a new one): its connection pool
    # is shared, so concurrent sessions do not each open connections.
    with _clients_lock:
        if endpoint not in _clients:
            from openai import OpenAI

            _clients[endpoint] = OpenAI(
                base_url=endpoint.base_url,
                # Servers without authentication (vLLM, transformers serve by default) ignore it; the
                # client insists on some key.
                api_key=endpoint.api_key or "no-key",
                timeout=endpoint.timeout_s,
                max_retries=endpoint.max_retries,
            )
        return _clients[endpoint]


def connect(task: str, model_ref: str, settings: Settings | None = None) -> RemoteModel:
    """The ``RemoteModel`` of the endpoint ``model_ref`` names. Nothing is sent yet: the first
    request says whether the server answers (and why not, in words).

    Raises:
        ModelUnavailableError: no such endpoint for ``task``.
    """
    started = time.perf_counter()
    endpoint = require_endpoint(task, model_ref, settings)
    return RemoteModel(
        task=task,
        model_ref=model_ref.strip(),
        endpoint=endpoint,
        client=_client(endpoint),
        device=device_of(endpoint),
        load_seconds=time.perf_counter() - started,
    )
