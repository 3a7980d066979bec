"""Pre-fetching catalogue models into the models folder, for air-gapped servers.

Run on a connected machine, then copy the models folder across and set ``LSM_OFFLINE=1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.config import Settings, get_settings
from backend.models import catalog
from backend.models.plan import mirror_folder

# Weights as safetensors only where a repo has them; tokenizer, config and processor files always.
_WANTED_FILES = [
    "*.json",
    "*.txt",
    "*.model",
    "*.spm",
    "*.safetensors",
    "*.tiktoken",
    "*.py.txt",
    "1_Pooling/*",
    "sentence_*",
]


@dataclass(frozen=True)
class DownloadResult:
    """Outcome for one model."""

    hub_id: str
    folder: str
    ok: bool
    message: str


def specs_to_download(tasks: list[str], include_alternatives: bool) -> list[catalog.ModelSpec]:
    """The catalogue entries the command fetches for ``tasks`` (all tasks when empty)."""
    unknown = [task for task in tasks if task not in catalog.TASKS]
    if unknown:
        raise ValueError(f"unknown task(s): {', '.join(unknown)}; choose from {', '.join(catalog.TASKS)}")
    chosen = tasks or list(catalog.TASKS)
    specs = [s for s in catalog.CATALOGUE if s.task in chosen and (s.default or include_alternatives)]
    unique: dict[str, catalog.ModelSpec] = {}
    for spec in specs:
        unique.setdefault(spec.hub_id, spec)
    return list(unique.values())


def download_model(spec: catalog.ModelSpec, settings: Settings | None = None) -> DownloadResult:
    """Fetch one model's files into its mirror folder; never raises for network errors."""
    from huggingface_hub import snapshot_download

    settings = settings or get_settings()
    folder: Path = mirror_folder(spec.hub_id, settings)
    try:
        snapshot_download(spec.hub_id, local_dir=folder, allow_patterns=_WANTED_FILES)
        if not any(folder.rglob("*.safetensors")):
            # Older repos publish pickle weights only; fetch them so the vetted model still loads.
            snapshot_download(spec.hub_id, local_dir=folder, allow_patterns=["pytorch_model.bin"])
    except Exception as error:  # noqa: BLE001 - reported per model, the others go on
        return DownloadResult(spec.hub_id, str(folder), False, f"{type(error).__name__}: {error}")
    return DownloadResult(spec.hub_id, str(folder), True, "downloaded")
