"""The one place the UI holds models: a process-wide cache shared by every session.

The first use of a hub model downloads it into the models folder with a real progress bar (shared
with any other session asking for it at the same time); a model the warm start is loading shows
"warming up" and is waited for, not loaded twice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

import streamlit as st

from backend import model_registry
from backend.config import get_settings
from backend.errors import HubUnreachableError, ShowcaseError
from backend.i18n import N_, _, current_language, ngettext
from backend.inference import engine_check
from backend.model_access import check_plan_access
from backend.models import acquire, availability, warm
from backend.models.availability import Availability
from backend.models.cache import CachedModel, ModelCache, shared_cache
from backend.models.fetch.download import DownloadProgress
from backend.models.loader import LoadedModel
from backend.models.resolve import catalogue, endpoints
from backend.models.resolve.device import DeviceInfo
from backend.models.resolve.hardware_names import said_hardware
from backend.text_safety import plain_markdown
from pages.components.auth import current_owner
from pages.components.feedback import arena_store

_log = logging.getLogger(__name__)

# A demo picker's last choice, which opens the box for a model folder already on this server.
FOLDER_CHOICE_LABEL = N_("A model folder on this server…")


@st.cache_resource(show_spinner=False)
def model_cache() -> ModelCache:
    """The shared cache; models are never mutated per request (options go per call).
    Built once per process, which also starts the warm start (setting ``LSM_WARM_TASKS``)."""
    cache = shared_cache()
    warm.start(cache, get_settings())
    return cache


def current_device() -> DeviceInfo:
    """The device every cached model loads onto, chosen once per process by the cache."""
    return model_cache().device


def device_name(name: str) -> str:
    """A device's name as the reader says it (a CPU's in the reader's language, any other by its own name)."""
    return said_hardware(name)


def get_model(task: str, model_ref: str, shown_as: str | None = None) -> LoadedModel:
    """Load (or reuse) a model, downloading it first with a progress bar; raises ShowcaseError subclasses.

    ``backend.models.acquire`` resolves the reference once and decides; this shows its waits. A
    folder in another signed-in user's workspace is refused before anything is loaded, so typing
    the path of someone else's run folder into a model box does not open their model.
    ``shown_as`` names the model in those waits instead of its own name (the blind arena's "Model A").
    """
    owner = current_owner()
    shown = plain_markdown(shown_as or model_registry.display_name(model_ref))
    spinner_text = {
        acquire.WARMING: _("Warming up {shown}: it started loading with the server…").format(shown=shown),
        acquire.LOADING: _("Loading {shown}…").format(shown=shown),
    }
    bar = st.empty()

    def report(progress: DownloadProgress) -> None:
        bar.progress(
            progress.fraction, text=_("Downloading {shown}: {label}").format(shown=shown, label=progress.label())
        )

    try:
        loaded = acquire.acquire(
            task,
            model_ref,
            model_cache(),
            check_access=lambda plan: check_plan_access(plan, owner),
            on_download=report,
            show_stage=lambda stage: st.spinner(spinner_text[stage]),
        )
    except HubUnreachableError as error:
        # Its hint sends the user to a downloaded model, which may not exist: then say what does help
        # (in a new error: the loader remembers this one for every session's next try).
        if endpoints.endpoints_for(task) or _any_model_answers(task, owner):
            raise
        raise HubUnreachableError(error.message, _no_model_here_step(_(FOLDER_CHOICE_LABEL)), error.detail) from error
    finally:
        bar.empty()
    # The ``auto`` engine setting: the first load queues the check of faster paths (once). Not for
    # a blind model: the queued check would name it on the jobs pages before the vote.
    if shown_as is None:
        engine_check.request_check(loaded, owner)
    return loaded


def show_prepare_defaults() -> None:
    """The "Prepare all defaults" button: per demo, the model it would answer on (a downloaded one
    first, else the default from the hub) downloaded with progress, loaded and run on one example."""
    from backend.inference import readiness

    if not st.button(
        _("Prepare all defaults"), key="models.prepare_all", icon=":material/rocket_launch:", type="primary"
    ):
        return
    overall = st.progress(0.0, text=_("Preparing the demos…"))
    file_bar = st.empty()

    def on_demo(index: int, total: int, state: readiness.DemoReadiness) -> None:
        shown = plain_markdown(model_registry.display_name(state.model)) if state.model else _("no model")
        overall.progress(
            index / total,
            text=_("Preparing {index} of {total}: {demo} on {shown}").format(
                index=index + 1, total=total, demo=_(state.demo), shown=shown
            ),
        )

    def on_bytes(progress: DownloadProgress) -> None:
        file_bar.progress(
            progress.fraction, text=_("Downloading {ref}: {label}").format(ref=progress.ref, label=progress.label())
        )

    results = readiness.check_demos(model_cache(), on_demo, on_bytes, get_settings(), owner=current_owner())
    failed = [result for result in results if not result.ok]
    # How many are ready, not "Done.": a full bar that says done above five failures reads as success.
    overall.progress(
        1.0, text=_("{ready} of {total} demos ready.").format(ready=len(results) - len(failed), total=len(results))
    )
    file_bar.empty()
    # One line per demo, those that answer first: what a presenter checks before going on stage.
    for result in sorted(results, key=lambda r: not r.ok):
        line = plain_markdown(readiness.result_line(result))
        (st.success if result.ok else st.error)(line, icon=":material/check:" if result.ok else ":material/error:")
    details = "\n\n".join(
        f"**{plain_markdown(r.model or r.task)}**: {plain_markdown(r.detail)}" for r in failed if r.detail
    )
    if details:
        with st.expander(_("Details for whoever runs this server")):
            st.markdown(details)


def loaded_row(item: CachedModel) -> dict[str, object]:
    """A row of the "Loaded now" table, with the column names a presenter reads."""
    return {
        N_("Model"): model_registry.display_name(item.model_ref),
        N_("Task"): catalogue.task_title(item.task),
        N_("Device"): device_name(item.device),
        N_("Memory (MB)"): item.memory_mb,
        N_("Loads"): item.loads,
    }


def availability_of(refs: Sequence[str], *, bases: bool = False) -> dict[str, Availability]:
    """Whether each model can load now (one remembered hub probe at most); ``bases`` for fine-tuning."""
    settings = get_settings()
    check = availability.base_availability if bases else availability.model_availability
    return {ref: check(ref, settings) for ref in refs}


def hidden_by_open_votes() -> set[str] | None:
    """The models this workspace's open blind pairs hold: no page names them until the vote. None
    when the workspace database cannot be read: an open pair may then hold any loaded model, so
    callers name none (the page still draws)."""
    try:
        return arena_store().hidden_models(current_owner())
    except (ShowcaseError, sqlite3.Error) as error:
        _log.warning("Open blind pairs could not be read; no loaded model is named: %s", error)
        return None


def shown_loaded() -> tuple[list[CachedModel], int]:
    """The models in the shared cache that a page may name, and how many it must leave out because
    an open blind vote holds them, or may (every list of loaded models goes through here)."""
    hidden = hidden_by_open_votes()
    loaded = model_cache().loaded()
    shown = [] if hidden is None else [item for item in loaded if item.model_ref not in hidden]
    return shown, len(loaded) - len(shown)


def hidden_line(count: int) -> str:
    """What a list of loaded models says instead of the ``count`` models an open blind vote holds."""
    return ngettext(
        "{count} model hidden by an open blind vote.", "{count} models hidden by an open blind vote.", count
    ).format(count=count)


def loaded_refs(task: str) -> set[str]:
    """The references of ``task`` in the shared cache now (leaving out those a blind vote hides)."""
    return {model.model_ref for model in shown_loaded()[0] if model.task == task}


def opening_choice(choices: Sequence[str], found: dict[str, Availability], widget_key: str = "") -> int:
    """Where a picker opens: what the user already picked in it (``widget_key``'s value), else the
    first choice that can load now (the default while the hub answers, else a downloaded one), else
    the first.

    A picker's labels carry availability marks ("downloaded" becomes "loaded" once a model is in
    memory), and Streamlit makes a new widget when its labels change: without the user's pick as
    its index it would jump back to the opening choice in the middle of a demo.
    """
    picked = st.session_state.get(widget_key) if widget_key else None
    if picked in choices:
        return list(choices).index(picked)
    return next((index for index, ref in enumerate(choices) if ref in found and found[ref].can_load), 0)


def warn_when_none_available(found: dict[str, Availability], what: str) -> None:
    """Say so before the form is filled when none of ``found`` can load on this server now."""
    if found and not any(state.can_load for state in found.values()):
        reason = next(iter(found.values())).reason
        st.warning(
            _(
                "None of the {what} in this list can be loaded on this server now. {reason} Pick a model "
                "folder on this server instead, or ask whoever runs it to download one."
            ).format(what=what, reason=plain_markdown(reason)),
            icon=":material/cloud_off:",
        )


def warn_when_pick_unavailable(found: dict[str, Availability], choice: str, folder_label: str) -> None:
    """Under a picker whose pick cannot answer on this server: why, and what to do next (another
    model of the list that can, else who can bring one and how; ``folder_label`` names the list's
    own model-folder choice)."""
    if choice not in found or found[choice].can_load:
        return
    if any(state.can_load for state in found.values()):
        step = _("Pick another model in the list that can answer here.")
    else:
        step = _no_model_here_step(folder_label)
    st.warning(f"{plain_markdown(found[choice].reason)} {step}", icon=":material/cloud_off:")


def _no_model_here_step(folder_label: str) -> str:
    return _(
        "None of the models in this list can answer on this server now: ask whoever runs it to download "
        "one (the Models page says how), or pick “{folder}” to use a model folder already on this server."
    ).format(folder=folder_label)


def _any_model_answers(task: str, owner: str) -> bool:
    """Whether a catalogue model of ``task`` or one of the owner's own can load here now."""
    refs = [spec.hub_id for spec in catalogue.models_for(task)]
    refs += [model.path for model in model_registry.list_local_models(task, owner=owner)]
    return any(state.can_load for state in availability_of(refs).values())


def show_base_availability(model_ref: str) -> None:
    """After *Check data* passed the gate: say where the base model will come from."""
    found = availability.base_availability(model_ref, get_settings())
    icon = ":material/download_done:" if found.is_here else ":material/cloud_download:"
    st.success(_("Base model: {reason}").format(reason=plain_markdown(found.reason)), icon=icon)


def readiness_line() -> str:
    """One line saying which demos answer now on this server and why the others cannot (Home, the
    sidebar, the Models page), as plain text. While a blind vote is open it names no model (a demo
    "on" a hidden model would look like a reveal) and a hidden model counts as not loaded."""
    shown, _hidden_count = shown_loaded()
    loaded = frozenset((item.task, item.model_ref) for item in shown)
    return _readiness_line(loaded, current_owner(), current_language(), hidden_by_open_votes() == set())


# The sidebar draws it on every run (a chat reply reruns the page often); the hub's state is
# remembered anyway, and a model loaded here changes ``loaded``, which is part of the key (and so is
# the language the line is written in).
@st.cache_data(ttl=15, show_spinner=False)
def _readiness_line(loaded: frozenset[tuple[str, str]], owner: str, language: str, name_models: bool) -> str:
    from backend.inference import readiness

    settings = get_settings()
    states = readiness.demo_readiness(set(loaded), settings, owner)
    return readiness.summary_line(states, settings, name_models)
