"""Local models the user owns: fine-tuned runs and folders dropped into the models folder.

A model folder announces itself with a ``showcase.json`` beside its ``config.json``:
``{"task": "sentiment", "title": "...", "created": "...", "metrics": {...}, "owner": "..."}``.
The fine-tuning studio writes one for every finished model, so it appears in the demos' pickers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from backend.config import Settings, get_settings

MANIFEST = "showcase.json"


@dataclass(frozen=True)
class LocalModel:
    """A local model folder usable as a model reference (``path``)."""

    task: str
    title: str
    path: str
    created: str
    owner: str
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return asdict(self)


def write_manifest(
    folder: Path, task: str, title: str, created: str, owner: str = "", metrics: dict[str, float] | None = None
) -> Path:
    """Mark ``folder`` as a model of ``task`` so the demos list it."""
    path = folder / MANIFEST
    payload = {"task": task, "title": title, "created": created, "owner": owner, "metrics": metrics or {}}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _read_manifest(manifest: Path) -> LocalModel | None:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("task"), str):
        return None
    if not (manifest.parent / "config.json").is_file():
        return None
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    return LocalModel(
        task=data["task"],
        title=str(data.get("title") or manifest.parent.name),
        path=str(manifest.parent.resolve()),
        created=str(data.get("created", "")),
        owner=str(data.get("owner", "")),
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
    )


def list_local_models(task: str, owner: str | None = None, settings: Settings | None = None) -> list[LocalModel]:
    """Local models of ``task``, newest first.

    Args:
        task: catalogue task name (fine-tuned text classifiers count as ``sentiment``'s peers by
            being written with the task the demo uses).
        owner: when given, only models of this owner or with no owner (shared).
        settings: settings to use.
    """
    settings = settings or get_settings()
    found: list[LocalModel] = []
    for root in (settings.models_dir, settings.runs_dir):
        if not root.is_dir():
            continue
        for manifest in root.glob(f"**/{MANIFEST}"):
            model = _read_manifest(manifest)
            if model and model.task == task and (owner is None or model.owner in ("", owner)):
                found.append(model)
    return sorted(found, key=lambda m: m.created, reverse=True)
