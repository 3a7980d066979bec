"""What the Models page reports: catalogue rows and offline-mirror status."""

from __future__ import annotations

from backend.config import Settings, get_settings
from backend.i18n import N_, _
from backend.models.resolve import catalogue, engine_record
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


# The engine table's column names as the engine processes record them, marked for the page to
# translate (``translated_headers``), and their status words, said in the reader's language here.
ENGINE_HEADERS = (
    N_("engine"),
    N_("model"),
    N_("status"),
    N_("process"),
    N_("failures"),
    N_("last failure"),
    N_("build"),
)
_ENGINE_STATUSES = {
    "running": N_("running"),
    "restarting": N_("restarting"),
    "stopped": N_("stopped"),
    "disabled": N_("disabled"),
}


def engine_rows() -> list[dict[str, object]]:
    """One row per native engine process this app started (llama.cpp, ONNX Runtime, CTranslate2):
    running, restarting or disabled, with its last failure in words; empty when none was started."""
    from backend.models.engines import engine_process

    rows = [state.to_row() for state in engine_process.engine_states()]
    for row in rows:
        status = str(row["status"])
        row["status"] = _(_ENGINE_STATUSES[status]) if status in _ENGINE_STATUSES else status
    return rows


def checked_rows(settings: Settings | None = None) -> list[dict[str, object]]:
    """One row per model the ``auto`` engine setting checked: the path it runs on, how much faster
    and how it agreed, when, and each path that failed with its reason."""
    settings = settings or get_settings()
    rows = []
    for decision in engine_record.all_decisions(settings):
        failed = [
            f"{_(engine_record.PATHS[item.path].label)}: {item.reason}"
            for item in decision.results
            if not item.passed and item.path in engine_record.PATHS
        ]
        failed += [f"{_(engine_record.PATHS[name].label)}: {reason}" for name, reason in decision.failures.items()
                   if name in engine_record.PATHS]  # fmt: skip
        rows.append(
            {
                _("Model"): decision.model,
                _("Task"): catalogue.task_title(decision.task),
                _("Runs on"): engine_record.decision_note(decision),
                _("Checked (UTC)"): decision.checked_at.replace("T", " ")[:16],
                _("CPU"): decision.machine.get("cpu", ""),
                _("Failed or refused"): "; ".join(failed) or "—",
            }
        )
    return rows
