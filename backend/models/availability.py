"""Whether a model can be loaded now on this server, and why not: one answer for the model pickers,
the fine-tuning gate and the readiness lines.

A model can load when a copy is on this server (the models folder, a run folder, huggingface_hub's
cache) or when the hub answers now. The hub's state is ``fetch.hub``'s remembered probe, so asking
about many models costs one probe at most. Nothing is downloaded and no weights are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import Settings, get_settings
from backend.errors import ShowcaseError
from backend.i18n import N_, _
from backend.models.fetch import hub
from backend.models.resolve import endpoints
from backend.models.resolve.plan import resolve_source

# The short marks a picker shows after a model's name (English; pickers show them translated).
DOWNLOADED = N_("downloaded")
NEEDS_HUB = N_("downloads on first use")
UNAVAILABLE = N_("not available here")
SERVED = N_("model server")


@dataclass(frozen=True)
class Availability:
    """Can the model load now, in words.

    Attributes:
        can_load: a copy is here, or the hub can serve one now.
        reason: a sentence saying why (shown after *Check data* and in the readiness lines).
        mark: a picker's short mark (``DOWNLOADED``, ``NEEDS_HUB``, ``UNAVAILABLE``, ``SERVED``).
    """

    can_load: bool
    reason: str
    mark: str

    @property
    def is_here(self) -> bool:
        """Loads without the hub: downloaded, or served by a configured model server."""
        return self.mark in (DOWNLOADED, SERVED)


def model_availability(model_ref: str, settings: Settings | None = None) -> Availability:
    """Whether ``model_ref`` can be loaded now, and why (never raises: a bad reference is unavailable)."""
    settings = settings or get_settings()
    if endpoints.is_endpoint_ref(model_ref):
        return Availability(True, _("It runs on a model server this app is configured to use."), SERVED)
    try:
        _source, is_local = resolve_source(model_ref, settings)
    except ShowcaseError as error:
        return Availability(False, error.user_text(), UNAVAILABLE)
    shown = model_ref.strip()
    if is_local or hub.in_hub_cache(shown):
        return Availability(True, _("{model} is downloaded on this server.").format(model=shown), DOWNLOADED)
    state = hub.hub_state(settings)
    if state.usable:
        return Availability(
            True,
            _("{model} is not downloaded yet; it downloads from the Hugging Face Hub.").format(model=shown),
            NEEDS_HUB,
        )
    return Availability(
        False, _("{model} is not downloaded, and {hub}.").format(model=shown, hub=hub_words(state)), UNAVAILABLE
    )


def hub_words(state: hub.HubState) -> str:
    """``the Hugging Face Hub is unreachable since 07:45`` or ``this app runs without the Hugging
    Face Hub (offline mode)``: the end of a sentence saying why a model cannot come from the hub."""
    if state.usable:
        return _("the Hugging Face Hub answers")
    if state.kind == hub.OFFLINE:
        return _("this app runs without the Hugging Face Hub (offline mode)")
    return _("the Hugging Face Hub is {state}").format(state=state.label())


def base_availability(model_ref: str, settings: Settings | None = None) -> Availability:
    """:func:`model_availability` for a fine-tuning base, which must load in this app's process."""
    if endpoints.is_endpoint_ref(model_ref):
        return Availability(False, _("A model on a model server cannot be fine-tuned here."), UNAVAILABLE)
    return model_availability(model_ref, settings)


def require_base(model_ref: str, settings: Settings | None = None) -> Availability:
    """The fine-tuning gate's check that the base can be loaded now; its availability when it can.

    Raises:
        HubUnreachableError: the base is not downloaded and the hub cannot serve it now.
        ShowcaseError: the reference itself is refused (``plan.resolve_source``'s errors).
    """
    settings = settings or get_settings()
    found = base_availability(model_ref, settings)
    if found.can_load:
        return found
    if endpoints.is_endpoint_ref(model_ref):
        raise ShowcaseError(found.reason, _("Pick a model from the list, or a local model folder."))
    resolve_source(model_ref, settings)  # a refused reference raises its own error
    raise hub.unreachable_error(model_ref.strip(), hub.hub_state(settings))


def first_available(refs: list[str], settings: Settings | None = None) -> str | None:
    """The first of ``refs`` that can load now (so the default while the hub answers, else the first
    downloaded one), or None: where a picker should open so that its first click answers."""
    settings = settings or get_settings()
    return next((ref for ref in refs if model_availability(ref, settings).can_load), None)
