"""Settings from environment variables and ``.streamlit/secrets.toml``.

Environment variables win over the ``[showcase]`` table of the secrets file, which wins over
defaults, so the same code runs on a laptop, a GPU server and Streamlit Community Cloud.
The backend reads the secrets file itself (with tomllib) because it never imports streamlit.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Community Cloud gives 2.7 GB in all; the app, torch and Streamlit take about 700 MB of it.
_DEFAULT_MODEL_MEMORY_MB = 2000
_TRUE_WORDS = {"1", "true", "yes", "on"}


_ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
# Tasks an OpenAI-compatible server can do for the app: /v1/chat/completions and /v1/embeddings.
ENDPOINT_TASKS = ("text-generation", "embeddings")


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible inference server (vLLM, SGLang, TGI, `transformers serve`...) that
    serves one task's model. Only the operator names these (secrets or LSM_ENDPOINTS): users pick
    an endpoint by its name, never by URL, so no user can make the server call an address.
    """

    name: str
    base_url: str
    model: str
    task: str
    # Kept out of reprs (and so out of logs and tracebacks that print settings).
    api_key: str = field(default="", repr=False)
    timeout_s: float = 60.0
    max_concurrency: int = 4
    max_retries: int = 2


def _endpoint(name: str, table: object) -> Endpoint:
    where = f"endpoint {name!r} (LSM_ENDPOINTS or [showcase.endpoints.{name}])"
    if not _ENDPOINT_NAME.match(name):
        raise ValueError(f"{where}: names are 1-40 letters, digits, '.', '_' or '-'.")
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table of settings.")
    unknown = set(table) - {field.name for field in fields(Endpoint)} - {"name"}
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)}.")
    base_url = str(table.get("base_url", "")).strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", base_url):
        raise ValueError(f"{where}: base_url must be an http(s) URL such as http://gpu-host:8000/v1.")
    task = str(table.get("task", "text-generation")).strip().lower()
    if task not in ENDPOINT_TASKS:
        raise ValueError(f"{where}: task must be one of {', '.join(ENDPOINT_TASKS)}.")
    if not str(table.get("model", "")).strip():
        raise ValueError(f"{where}: model (the name the server serves) is required.")
    endpoint = Endpoint(
        name=name,
        base_url=base_url,
        model=str(table["model"]).strip(),
        task=task,
        api_key=str(table.get("api_key", "")),
        timeout_s=float(table.get("timeout_s", 60.0)),
        max_concurrency=int(table.get("max_concurrency", 4)),
        max_retries=int(table.get("max_retries", 2)),
    )
    if endpoint.timeout_s <= 0 or not 1 <= endpoint.max_concurrency <= 256 or not 0 <= endpoint.max_retries <= 10:
        raise ValueError(f"{where}: timeout_s must be positive, max_concurrency 1-256, max_retries 0-10.")
    return endpoint


def _read_endpoints(secrets: dict[str, object]) -> tuple[Endpoint, ...]:
    """LSM_ENDPOINTS (a JSON object of name -> settings) wins over ``[showcase.endpoints.<name>]``."""
    text = os.environ.get("LSM_ENDPOINTS", "").strip()
    try:
        tables = json.loads(text) if text else secrets.get("endpoints", {})
    except ValueError as error:
        raise ValueError(f"LSM_ENDPOINTS is not valid JSON ({error.msg}).") from None
    if not isinstance(tables, dict):
        raise ValueError("LSM_ENDPOINTS / [showcase.endpoints] must map endpoint names to tables.")
    return tuple(_endpoint(str(name), table) for name, table in tables.items())


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
    # Inference engine per CPU demo, "task=engine" pairs ("sentiment=onnx,translation=ctranslate2");
    # unnamed tasks run in torch (see backend/models/engines.py).
    cpu_engine: str = ""
    # The Hugging Face Hub (or a mirror of it): HF_ENDPOINT, as huggingface_hub reads it.
    hub_endpoint: str = "https://huggingface.co"
    # Tasks whose default model loads in the background when the server starts (LSM_WARM_TASKS).
    warm_tasks: tuple[str, ...] = ()
    # Where job state lives: "" is the SQLite file in the state folder (one machine); a
    # postgresql://user:password@host/db URL lets workers on several machines share it. It may
    # carry a password, so it is kept out of reprs like redis_url.
    job_store: str = field(default="", repr=False)
    # Run folders (uploads, checkpoints, trained models): "" is <state_dir>/runs. A cluster points
    # every app replica and worker at one shared folder (NFS), and keeps a state folder per machine.
    runs_folder: str = ""
    # How often a worker beats for its running job (and for itself); 12 missed beats mean it is dead.
    job_heartbeat_seconds: float = 5.0
    # Whether the app starts a worker on its own machine when none runs there (Community Cloud
    # needs it); a cluster whose workers run elsewhere turns it off.
    worker_autostart: bool = True
    # OpenAI-compatible inference servers the operator configured (see ``Endpoint``).
    endpoints: tuple[Endpoint, ...] = field(default=(), repr=False)
    # The app's public address (https://showcase.example.org): links the app hands out, such as the
    # market briefing's "reproduce" link, use it; "" falls back to the address the browser used.
    public_url: str = ""

    @property
    def runs_dir(self) -> Path:
        """Fine-tuning run folders (datasets, checkpoints, finished models)."""
        return _resolve(self.runs_folder) if self.runs_folder else self.state_dir / "runs"

    @property
    def jobs_db(self) -> Path:
        """SQLite file of the job store (when ``job_store`` names no server)."""
        return self.state_dir / "jobs.sqlite3"

    @property
    def stale_heartbeat_seconds(self) -> float:
        """Silence after which a running job's worker counts as dead."""
        return 12 * self.job_heartbeat_seconds


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
        cpu_engine=_pick("LSM_CPU_ENGINE", secrets, "cpu_engine", "").strip().lower(),
        hub_endpoint=_pick("HF_ENDPOINT", secrets, "hub_endpoint", "https://huggingface.co").strip().rstrip("/"),
        warm_tasks=tuple(t.strip() for t in _pick("LSM_WARM_TASKS", secrets, "warm_tasks", "").split(",") if t.strip()),
        job_store=_pick("LSM_JOB_STORE", secrets, "job_store", "").strip(),
        runs_folder=_pick("LSM_RUNS_FOLDER", secrets, "runs_folder", "").strip(),
        job_heartbeat_seconds=float(_pick("LSM_JOB_HEARTBEAT_SECONDS", secrets, "job_heartbeat_seconds", "5")),
        worker_autostart=_pick("LSM_WORKER_AUTOSTART", secrets, "worker_autostart", "1").strip().lower() in _TRUE_WORDS,
        endpoints=_read_endpoints(secrets),
        public_url=_pick("LSM_PUBLIC_URL", secrets, "public_url", "").strip().rstrip("/"),
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
        if setting.name == "endpoints":
            # API keys included: the worker calls the same servers (an environment is no log).
            environment[name] = json.dumps({e.name: {k: v for k, v in asdict(e).items() if k != "name"} for e in value})
        elif isinstance(value, bool):
            environment[name] = "1" if value else "0"
        elif isinstance(value, tuple):
            environment[name] = ",".join(value)
        else:
            environment[name] = str(value)
    return environment
