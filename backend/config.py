"""Settings from environment variables and ``.streamlit/secrets.toml``.

Environment variables win over the ``[showcase]`` table of the secrets file, which wins over
defaults, so the same code runs on a laptop, a GPU server and Streamlit Community Cloud.
The backend reads the secrets file itself (with tomllib) because it never imports streamlit.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Community Cloud gives 2.7 GB in all; the app, torch and Streamlit take about 700 MB of it.
_DEFAULT_MODEL_MEMORY_MB = 2000
_TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Every setting the backend reads. Paths are absolute."""

    models_dir: Path
    state_dir: Path
    device: str
    model_memory_mb: int
    offline: bool
    queue_backend: str
    # May carry a password (redis://:secret@host): kept out of reprs, so logs never show it.
    redis_url: str = field(repr=False)
    # "int8": int8 Linear layers for the CPU demos, weight-only for chat (backend/models/quantize.py).
    cpu_quantize: str = "none"
    # "auto": the CPU demos load in bfloat16 where the CPU computes it natively; "on", "off".
    cpu_bfloat16: str = "auto"
    # The Hugging Face Hub (or a mirror of it): HF_ENDPOINT, as huggingface_hub reads it.
    hub_endpoint: str = "https://huggingface.co"
    # Tasks whose default model loads in the background when the server starts (LSM_WARM_TASKS).
    warm_tasks: tuple[str, ...] = ()

    @property
    def runs_dir(self) -> Path:
        """Fine-tuning run folders (datasets, checkpoints, finished models)."""
        return self.state_dir / "runs"

    @property
    def jobs_db(self) -> Path:
        """SQLite file of the job queue and job store."""
        return self.state_dir / "jobs.sqlite3"


def _read_secrets_table(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    table = data.get("showcase", {})
    return table if isinstance(table, dict) else {}


def _pick(env_name: str, secrets: dict[str, object], key: str, default: str) -> str:
    value = os.environ.get(env_name)
    if value is not None and value != "":
        return value
    if key in secrets:
        return str(secrets[key])
    return default


def _resolve(path_text: str) -> Path:
    path = Path(path_text).expanduser()
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


def load_settings(secrets_path: Path | None = None) -> Settings:
    """Read the settings afresh (tests call this after changing the environment)."""
    secrets = _read_secrets_table(secrets_path or PROJECT_ROOT / ".streamlit" / "secrets.toml")
    offline_text = _pick("LSM_OFFLINE", secrets, "offline", os.environ.get("HF_HUB_OFFLINE", "0"))
    return Settings(
        models_dir=_resolve(_pick("LSM_MODELS_DIR", secrets, "models_dir", "models")),
        state_dir=_resolve(_pick("LSM_STATE_DIR", secrets, "state_dir", "var")),
        device=_pick("LSM_DEVICE", secrets, "device", "auto").strip().lower(),
        model_memory_mb=int(_pick("LSM_MODEL_MEMORY_MB", secrets, "model_memory_mb", str(_DEFAULT_MODEL_MEMORY_MB))),
        offline=offline_text.strip().lower() in _TRUE_WORDS,
        queue_backend=_pick("LSM_QUEUE", secrets, "queue", "sqlite").strip().lower(),
        redis_url=_pick("LSM_REDIS_URL", secrets, "redis_url", "redis://localhost:6379/0"),
        cpu_quantize=_pick("LSM_CPU_QUANTIZE", secrets, "cpu_quantize", "none").strip().lower(),
        cpu_bfloat16=_pick("LSM_CPU_BFLOAT16", secrets, "cpu_bfloat16", "auto").strip().lower(),
        hub_endpoint=_pick("HF_ENDPOINT", secrets, "hub_endpoint", "https://huggingface.co").strip().rstrip("/"),
        warm_tasks=tuple(t.strip() for t in _pick("LSM_WARM_TASKS", secrets, "warm_tasks", "").split(",") if t.strip()),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


# Environment variable of each setting: ``LSM_`` + the field name in capitals, except these.
_ENV_NAME_EXCEPTIONS = {"queue_backend": "LSM_QUEUE"}


def to_environment(settings: Settings) -> dict[str, str]:
    """Every setting as the environment variables ``load_settings`` reads, so that a child process
    (the worker) sees exactly these settings, including ones added later.
    """
    environment = {}
    for setting in fields(settings):
        value = getattr(settings, setting.name)
        name = _ENV_NAME_EXCEPTIONS.get(setting.name, f"LSM_{setting.name.upper()}")
        if isinstance(value, bool):
            environment[name] = "1" if value else "0"
        elif isinstance(value, tuple):
            environment[name] = ",".join(value)
        else:
            environment[name] = str(value)
    return environment
