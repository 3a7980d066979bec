"""What the Models page reports: catalogue rows and offline-mirror status."""

from __future__ import annotations

from backend.config import Settings, get_settings
from backend.i18n import N_
from backend.models.resolve import catalogue
from backend.models.resolve.device import DeviceInfo, choose_device
from backend.models.resolve.plan import choose_dtype, mirror_folder


def catalogue_rows(
    task: str, settings: Settings | None = None, device: DeviceInfo | None = None
) -> list[dict[str, object]]:
    """One JSON-able row per catalogue model of ``task``: size and precision on ``device`` (default:
    this machine's, from the settings), and whether it is mirrored locally."""
    settings = settings or get_settings()
    device = device or choose_device(settings.device)
    rows = []
    for spec in catalogue.models_for(task):
        folder = mirror_folder(spec.hub_id, settings)
        dtype = choose_dtype(task, spec.hub_id, device, settings)
        rows.append(
            {
                N_("model"): spec.hub_id,
                N_("title"): spec.title,
                N_("default"): spec.default,
                N_("params (M)"): spec.params_millions,
                N_("loads in"): dtype,
                N_("weights (MB)"): spec.memory_mb(dtype),
                N_("languages"): ", ".join(spec.languages) or "—",
                N_("licence"): spec.licence,
                N_("local copy"): (folder / "config.json").is_file() or (folder / "modules.json").is_file(),
            }
        )
    return rows


def engine_rows() -> list[dict[str, object]]:
    """One row per native engine process this app started (llama.cpp): running, restarting or
    disabled, with its last failure in words; empty when none was started."""
    from backend.models.engines import llama_cpp_process

    return [state.to_row() for state in llama_cpp_process.engine_states()]
