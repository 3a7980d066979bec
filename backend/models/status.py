"""What the Models page reports: catalogue rows and offline-mirror status."""

from __future__ import annotations

from backend.config import Settings, get_settings
from backend.models import catalog
from backend.models.loader import mirror_folder


def catalogue_rows(task: str, settings: Settings | None = None) -> list[dict[str, object]]:
    """One JSON-able row per catalogue model of ``task``, saying whether it is mirrored locally."""
    settings = settings or get_settings()
    rows = []
    for spec in catalog.models_for(task):
        folder = mirror_folder(spec.hub_id, settings)
        rows.append(
            {
                "model": spec.hub_id,
                "title": spec.title,
                "default": spec.default,
                "params (M)": spec.params_millions,
                "memory on CPU (MB)": spec.memory_mb(),
                "languages": ", ".join(spec.languages) or "—",
                "licence": spec.licence,
                "local copy": (folder / "config.json").is_file() or (folder / "modules.json").is_file(),
            }
        )
    return rows
