"""Settings from environment variables and ``.streamlit/secrets.toml``: the one place that reads them.

Environment variables win over the ``[showcase]`` table of the secrets file, which wins over
defaults, so the same code runs on a laptop, a GPU server and Streamlit Community Cloud.
The backend reads the secrets file itself (with tomllib) because it never imports streamlit.
Each setting is a documented field of ``Settings``; ``backend.settings_docs`` writes the settings
table and the secrets example from those fields.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import Field, asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"

# Community Cloud gives 2.7 GB in all; the app, torch and Streamlit take about 700 MB of it.
_DEFAULT_MODEL_MEMORY_MB = 2000
_TRUE_WORDS = {"1", "true", "yes", "on"}
# Fine-tuning stores users' datasets and models; "Your market data" takes internal figures.
# Not a page: the Models page's actions that act for everyone (unload every loaded model, download
# and load every default). Listed in the protected setting like a section or a page path.
OPERATOR_ACTIONS = "Operator actions"
DEFAULT_PROTECTED: tuple[str, ...] = ("Fine-tuning", "pages/market/your_data.py", OPERATOR_ACTIONS)


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
    base_url: str = field(metadata={"description": "the server's OpenAI API root"})
    model: str = field(metadata={"description": "the name the server serves (vLLM: --served-model-name)"})
    task: str = field(metadata={"description": '"text-generation" or "embeddings" (Applications search)'})
    # Kept out of reprs (and so out of logs and tracebacks that print settings).
    api_key: str = field(default="", repr=False, metadata={"description": "vLLM --api-key; leave out for none"})
    timeout_s: float = field(default=60.0, metadata={"description": "seconds per request"})
    max_concurrency: int = field(default=4, metadata={"description": "requests at once from one batch job"})
    max_retries: int = field(default=2, metadata={"description": "retries on 429, 5xx and lost connections"})


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


def _read_endpoints(env_name: str, showcase: Mapping[str, object]) -> tuple[Endpoint, ...]:
    """The environment variable (a JSON object of name -> settings) wins over ``[showcase.endpoints.<name>]``."""
    text = os.environ.get(env_name, "").strip()
    try:
        tables = json.loads(text) if text else showcase.get("endpoints", {})
    except ValueError as error:
        raise ValueError(f"{env_name} is not valid JSON ({error.msg}).") from None
    if not isinstance(tables, dict):
        raise ValueError(f"{env_name} / [showcase.endpoints] must map endpoint names to tables.")
    return tuple(_endpoint(str(name), table) for name, table in tables.items())


def _resolve(path_text: str) -> Path:
    path = Path(path_text).expanduser()
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


def _text(raw: str) -> str:
    return raw.strip()


def _word(raw: str) -> str:
    return raw.strip().lower()


def _flag(raw: str) -> bool:
    return raw.strip().lower() in _TRUE_WORDS


def _names(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _protected(raw: str) -> tuple[str, ...]:
    return () if raw.strip().lower() in ("", "none") else _names(raw)


def _setting(
    description: str,
    raw_default: str,
    *,
    parse: Callable[[str], Any] = _text,
    env: str = "",
    key: str = "",
    fallback_env: str = "",
    empty_env_counts: bool = False,
    secret: bool = False,
) -> Any:
    """A documented setting: ``description`` is what the settings table and the secrets example say.

    ``raw_default`` is the default as the environment would spell it (the table shows it; parsed,
    it is the field's default); ``env`` and ``key`` override the names derived from the field name
    (``LSM_`` + NAME, and the name itself); ``fallback_env`` is read when neither the environment
    nor the secrets file sets it; with ``empty_env_counts`` an empty variable is a value, not unset;
    a ``secret`` never appears in reprs, pages or logs.
    """
    metadata = {
        "description": description,
        "raw_default": raw_default,
        "parse": parse,
        "env": env,
        "key": key,
        "fallback_env": fallback_env,
        "empty_env_counts": empty_env_counts,
    }
    return field(default=parse(raw_default), repr=not secret, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Every setting the app reads, with its documentation (``python -m backend.settings_docs``
    writes the settings table and the secrets example from these fields). Paths are absolute.
    """

    models_dir: Path = _setting(
        "Local model folders and offline mirrors of hub models.", raw_default="models", parse=_resolve
    )
    state_dir: Path = _setting(
        "Job database, queue, logs and uploads; local to each machine.", raw_default="var", parse=_resolve
    )
    device: str = _setting(
        "`auto` (CUDA, then MPS, then CPU), `cuda`, `mps` or `cpu`.", raw_default="auto", parse=_word
    )
    model_memory_mb: int = _setting(
        "Memory for loaded model weights, in MB; past it the least recently used model is dropped.",
        raw_default=str(_DEFAULT_MODEL_MEMORY_MB),
        parse=int,
    )
    offline: bool = _setting(
        "Never contact the Hugging Face Hub: load models only from the models folder.",
        raw_default="0",
        parse=_flag,
        fallback_env="HF_HUB_OFFLINE",
    )
    queue_backend: str = _setting(
        "Job queue: `sqlite` (a file in the state folder, one machine) or `redis` (workers on several machines).",
        raw_default="sqlite",
        parse=_word,
        env="LSM_QUEUE",
        key="queue",
    )
    # May carry a password (redis://:secret@host): kept out of reprs, so logs never show it.
    redis_url: str = _setting(
        "Redis server when the queue is `redis`.", raw_default="redis://localhost:6379/0", secret=True
    )
    cpu_quantize: str = _setting(
        "`int8`: int8 Linear layers for the CPU demos, weight-only int8 for the chat model, ONNX "
        "Runtime's int8 copy where sentiment runs on it (see docs/benchmarks.md); `none` keeps the "
        "weights as they are.",
        raw_default="none",
        parse=_word,
    )
    cpu_bfloat16: str = _setting(
        "`auto`: the CPU demos load in bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX) "
        "and the chat model on every CPU; `on` or `off` to force it.",
        raw_default="auto",
        parse=_word,
    )
    cpu_engine: str = _setting(
        "`auto`: the first load of a CPU demo's model starts a background check of its faster paths "
        "(bfloat16, int8, ONNX Runtime, CTranslate2, llama.cpp) against torch float32 on this machine, "
        "and later loads take the fastest that passed (docs/benchmarks.md); `torch` turns that off. "
        "Or force an engine per demo, comma-separated: `sentiment=onnx` (ONNX Runtime), "
        "`translation=ctranslate2` (CTranslate2), `text-generation=llama.cpp` (run "
        "`bash scripts/install-llama-cpp.sh` once first); other tasks run in torch. Each engine's copy "
        "of a model is made once and kept in `<model folder>/.lsm-engines/`.",
        raw_default="auto",
        parse=_word,
    )
    hub_endpoint: str = _setting(
        "The Hugging Face Hub or a mirror of it, as huggingface_hub reads it.",
        raw_default="https://huggingface.co",
        parse=lambda raw: raw.strip().rstrip("/"),
        env="HF_ENDPOINT",
    )
    warm_tasks: tuple[str, ...] = _setting(
        "Tasks whose default model loads in the background when the server starts, comma-separated, or `all`.",
        raw_default="",
        parse=_names,
    )
    # May carry a password, so it is kept out of reprs like redis_url.
    job_store: str = _setting(
        "Where job state lives: empty for the SQLite file in the state folder (one machine), or a "
        "`postgresql://user:password@host:5432/db` URL that workers on several machines share.",
        raw_default="",
        secret=True,
    )
    runs_folder: str = _setting(
        "Run folders (uploads, checkpoints, trained models); empty for `runs/` in the state folder. "
        "A cluster points every app replica and worker at one shared folder.",
        raw_default="",
    )
    job_heartbeat_seconds: float = _setting(
        "How often a worker reports; a job whose worker missed 12 beats is failed as dead.",
        raw_default="5",
        parse=float,
    )
    torch_build: str = _setting(
        "Which torch build `scripts/setup.sh` installs: `cpu` (PyTorch's CPU wheel on Linux x86-64) or "
        "`cuda` (the package index's CUDA build, for a GPU server); remembered in `.venv` once chosen. "
        "Read by the setup script only, before Python starts.",
        raw_default="cpu",
        parse=_word,
        env="LSM_TORCH",
    )
    worker_autostart: bool = _setting(
        "Whether the app starts a worker on its own machine when a job waits (Community Cloud needs it); "
        "`0` where workers run elsewhere.",
        raw_default="1",
        parse=_flag,
    )
    # The policy reads these two afresh on every page run (backend/auth.py), so a changed secrets
    # file applies at once.
    access_password_hash: str = _setting(
        "Shared password for protected pages, as the hash `python -m backend.auth` prints; "
        "ignored when an `[auth]` table configures OpenID Connect.",
        raw_default="",
        secret=True,
    )
    protected: tuple[str, ...] = _setting(
        "Navigation sections or page paths that need sign-in, comma-separated (a list in the secrets "
        "file); `none` protects nothing.",
        raw_default=",".join(DEFAULT_PROTECTED),
        parse=_protected,
        empty_env_counts=True,
    )
    client_address_header: str = _setting(
        "Header carrying the client's address when a reverse proxy on another host sits in front "
        "(e.g. `X-Real-IP`); only set it behind such a proxy, since clients can send any header.",
        raw_default="",
    )
    upload_visitor_mb: int = _setting(
        "Uploaded bytes (MB) the server keeps in memory for one visitor: a browser session, and all "
        "sessions from one address together. The largest page needs 100 MB (an image zip, or a "
        "training and a validation table of 50 MB each).",
        raw_default="200",
        parse=int,
    )
    upload_total_mb: int = _setting(
        "Uploaded bytes (MB) the server keeps in memory for all sessions together; Community Cloud "
        "has 2.7 GB for everything, models included.",
        raw_default="600",
        parse=int,
    )
    lab_download_mb: int = _setting(
        "Largest compressed variant (MB) the compression lab packs into a zip for download; a larger "
        "one (a 7B model's GGUF copy) is named with its size and where it lies on the server instead.",
        raw_default="1024",
        parse=int,
    )
    public_url: str = _setting(
        "The app's public address (e.g. `https://showcase.example.com`), used in the market briefing's "
        "link back to the app; empty leaves the link out rather than point at localhost.",
        raw_default="",
        parse=lambda raw: raw.strip().rstrip("/"),
    )
    endpoints: tuple[Endpoint, ...] = _setting(
        "OpenAI-compatible model servers as a JSON object, "
        '`{"name": {"base_url": ..., "model": ..., "task": ..., "api_key": ...}}`; replaces every '
        "`[showcase.endpoints.<name>]` table.",
        raw_default="",
        parse=lambda _raw: (),  # read_setting reads the JSON or the tables (_read_endpoints)
        secret=True,
    )

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


def environment_name(setting: Field) -> str:
    """The environment variable of a setting: ``LSM_`` + its name in capitals unless it names another."""
    return setting.metadata["env"] or f"LSM_{setting.name.upper()}"


def secrets_key(setting: Field) -> str:
    """The setting's key in the ``[showcase]`` table of the secrets file."""
    return setting.metadata["key"] or setting.name


def setting_fields() -> tuple[Field, ...]:
    """Every setting, in the order the settings table lists them."""
    return fields(Settings)


def read_secrets_file(path: Path | None = None) -> dict[str, object]:
    """The whole secrets file (``{}`` when there is none); raises ``ValueError`` when it is no TOML."""
    path = path or SECRETS_PATH
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def showcase_table(secrets: Mapping[str, object]) -> dict[str, object]:
    """The ``[showcase]`` table of a secrets file's contents."""
    table = secrets.get("showcase", {})
    return table if isinstance(table, dict) else {}


def read_setting(name: str, showcase: Mapping[str, object]) -> Any:
    """One setting: its environment variable, else ``showcase[key]``, else its default, parsed.

    Args:
        name: the ``Settings`` field.
        showcase: the ``[showcase]`` table of the secrets file.
    """
    setting = next(candidate for candidate in setting_fields() if candidate.name == name)
    if name == "endpoints":
        return _read_endpoints(environment_name(setting), showcase)
    value = os.environ.get(environment_name(setting))
    if value is None or (value == "" and not setting.metadata["empty_env_counts"]):
        stored = showcase.get(secrets_key(setting))
        if stored is None:
            fallback = setting.metadata["fallback_env"]
            value = (os.environ.get(fallback, "") if fallback else "") or setting.metadata["raw_default"]
        elif isinstance(stored, list):
            value = ",".join(str(item) for item in stored)
        elif isinstance(stored, bool):
            value = "1" if stored else "0"
        else:
            value = str(stored)
    return setting.metadata["parse"](value)


def load_settings(secrets_path: Path | None = None) -> Settings:
    """Read the settings afresh (tests call this after changing the environment)."""
    showcase = showcase_table(read_secrets_file(secrets_path))
    return Settings(**{setting.name: read_setting(setting.name, showcase) for setting in setting_fields()})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def to_environment(settings: Settings) -> dict[str, str]:
    """Every setting as the environment variables ``load_settings`` reads, so that a child process
    (the worker) sees exactly these settings, including ones added later.
    """
    environment = {}
    for setting in setting_fields():
        value = getattr(settings, setting.name)
        name = environment_name(setting)
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
