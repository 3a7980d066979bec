"""Shared fixtures: offline environment, temporary state folders and tiny local models."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

# Set before transformers or huggingface_hub are imported anywhere: tests never touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from backend import config  # noqa: E402
from tests.support import processes, tiny_models, tolerances  # noqa: E402


def _freeze_library_objects() -> None:
    """Leave the libraries every test imports out of later garbage collections.

    A full collection walked their few hundred thousand objects each time (0.4-0.5 s; 13 s of
    the UI tests' 189 s, more where memory tests collect before measuring). They live as long as
    the session; everything a test creates comes later and is collected as before.
    """
    import gc

    import streamlit  # noqa: F401
    import transformers.pipelines  # noqa: F401

    gc.collect()
    gc.freeze()


_freeze_library_objects()


@pytest.fixture(scope="session")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's models and state folders, wired into the settings for every test."""
    root = tmp_path_factory.mktemp("showcase")
    (root / "models").mkdir()
    (root / "state").mkdir()
    return root


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings(state_root: Path):
    pinned = ("LSM_MODELS_DIR", "LSM_STATE_DIR", "LSM_DEVICE", "LSM_OFFLINE", "LSM_CPU_BFLOAT16", "LSM_CPU_ENGINE")
    # The developer's own settings (LSM_CPU_ENGINE=..., LSM_CPU_QUANTIZE=int8 in a shell profile)
    # would change what every test checks: none reach the session. LSM_TEST_* are the suite's own.
    inherited = [k for k in os.environ if k.startswith("LSM_") and not k.startswith("LSM_TEST_")]
    saved = {k: os.environ.get(k) for k in (*pinned, *inherited)}
    for key in inherited:
        del os.environ[key]
    os.environ["LSM_MODELS_DIR"] = str(state_root / "models")
    os.environ["LSM_STATE_DIR"] = str(state_root / "state")
    os.environ["LSM_DEVICE"] = "cpu"
    os.environ["LSM_OFFLINE"] = "1"
    # The dtype the demos compute in is chosen here, not by the host: "auto" picks bfloat16 only
    # where the CPU has bfloat16 units, so the same test would check a different path on an AVX2
    # laptop and on an AMX server. Float32 by default; the numerics tests take both paths through
    # the ``compute_dtype`` fixture, and "auto" itself is tested with the CPU probe replaced.
    os.environ["LSM_CPU_BFLOAT16"] = "off"
    # Likewise the engine: "auto" (the default) would queue a background check of every model a
    # page loads and then answer from whichever path won on this host. Its own tests set it.
    os.environ["LSM_CPU_ENGINE"] = "torch"
    config.get_settings.cache_clear()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    config.get_settings.cache_clear()


_DEFAULT_TORCH_THREADS = torch.get_num_threads()


@pytest.fixture(autouse=True)
def _torch_threads(request: pytest.FixtureRequest):
    """One torch thread for tiny models; torch's default for real weights and thread-pool tests.

    A tiny model's operations are too small to split, and on a busy two-core machine a two-thread
    pool waits for its other thread at every step (a tiny translation: 4.4 s instead of 0.3 s).
    """
    full = request.node.get_closest_marker("real_weights") or request.node.get_closest_marker("torch_threads")
    torch.set_num_threads(_DEFAULT_TORCH_THREADS if full else 1)
    yield
    torch.set_num_threads(_DEFAULT_TORCH_THREADS)


@pytest.fixture(scope="session")
def settings(_isolated_settings) -> config.Settings:
    """The settings every test runs under (offline, CPU, temp folders)."""
    return config.get_settings()


@pytest.fixture(params=tolerances.COMPUTE_DTYPES)
def compute_dtype(request: pytest.FixtureRequest) -> str:
    """Each numerics test once per path a CPU demo computes in, float32 and bfloat16, on any host."""
    return request.param


@pytest.fixture(scope="session")
def tiny_models_dir(settings: config.Settings) -> dict[str, Path]:
    """One tiny saved model per task, inside the models folder: task -> folder."""
    return tiny_models.build_all(settings.models_dir / "tiny")


@pytest.fixture(scope="session")
def tiny_model_paths(tiny_models_dir: dict[str, Path]) -> dict[str, str]:
    """task -> model reference string (an absolute folder path) for the loader."""
    return {task: str(folder) for task, folder in tiny_models_dir.items()}


@pytest.fixture(autouse=True)
def _navigation_pages_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make AppTest run every page through app.py, as a live server does.

    AppTest resets Streamlit's legacy "pages/ folder" flag before each run, so a rerun of a page
    lying directly in pages/ executes that file alone (without app.py's sidebar and sign-in gate),
    and its ``st.page_link`` calls to pages in subfolders fail. A live server clears the flag on
    its first run through app.py's ``st.navigation`` and keeps it cleared.
    """
    from pages.components import legacy_pages

    pages_manager = legacy_pages.pages_manager_class()
    original_init = pages_manager.__init__

    def init_without_pages_folder(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        legacy_pages.declare_navigation_only()

    monkeypatch.setattr(pages_manager, "__init__", init_without_pages_folder)


@pytest.fixture
def local(tmp_path: Path, settings: config.Settings) -> config.Settings:
    """Settings with a private state folder, so worker tests see only their own jobs."""
    return dataclasses.replace(settings, state_dir=tmp_path / "state")


@pytest.fixture
def start_worker(local: config.Settings):
    """Start real training worker processes on ``local``'s state folder; stopped after the test."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {**os.environ, "LSM_STATE_DIR": str(local.state_dir)}
        process = processes.start_module("backend.worker", env, local.state_dir.parent / f"worker-{len(started)}.log")
        started.append(process)
        return process

    yield start
    processes.stop_all(started)
