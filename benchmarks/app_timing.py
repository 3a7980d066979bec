"""App timings: process start to the home page, and each demo's first answer, cold and warm.

Home page: ``streamlit run app.py`` through ``scripts/serve.py`` (as ``scripts/app.sh`` serves it)
on a free loopback port; the clock runs from ``Popen`` until
``/_stcore/health`` answers, until ``/`` is served, and (when Playwright and Chromium are
installed, as for the browser tests) until a headless browser shows the home page's heading.

Demo pages: each page's first answer is timed in a fresh Python process running the call path
the page makes (import of the page's backend module, the shared model cache's ``get``, then the
demo call), not through the browser: "cold" is that whole path, "warm" the same call again with
the model cached. The chat page streams, so its cold figure is time to the first token.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from backend.config import PROJECT_ROOT, Settings, to_environment
from benchmarks.profiles import Profile
from benchmarks.standins import prepare_model

_STARTUP_TIMEOUT_SECONDS = 120
_POLL_SECONDS = 0.05
_CHROMIUM = "/usr/bin/chromium"
_DEMO_TASKS = ("sentiment", "translation", "image-classification", "text-generation")


@dataclass(frozen=True)
class AppItem:
    """One timed thing."""

    what: str
    cold_seconds: float | None
    warm_seconds: float | None
    how: str

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {
            "what": self.what,
            "cold_seconds": self.cold_seconds,
            "warm_seconds": self.warm_seconds,
            "how": self.how,
        }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            response.read()
            return int(response.status)
    except OSError:
        return 0


def _wait_for(url: str, started: float, process: subprocess.Popen) -> float:
    while time.perf_counter() - started < _STARTUP_TIMEOUT_SECONDS:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        if _get(url) == 200:
            return time.perf_counter() - started
        time.sleep(_POLL_SECONDS)
    raise TimeoutError(f"{url} did not answer within {_STARTUP_TIMEOUT_SECONDS} s")


def _open_browser(stack: contextlib.ExitStack) -> Any | None:
    """A headless Chromium page, opened before the app starts so its launch is not timed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(_CHROMIUM).exists():
        return None
    playwright = stack.enter_context(sync_playwright())
    browser = playwright.chromium.launch(executable_path=_CHROMIUM, headless=True)
    stack.callback(browser.close)
    return browser.new_page()


def _rendered_seconds(page: Any, url: str, started: float) -> float:
    page.goto(url)
    page.get_by_role("heading", name="Large Model Showcase").wait_for(timeout=_STARTUP_TIMEOUT_SECONDS * 1000)
    return time.perf_counter() - started


def _app_env(settings: Settings, state_dir: str) -> dict[str, str]:
    served = replace(settings, state_dir=Path(state_dir), offline=True)
    return {**os.environ, **to_environment(served), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def time_home_page(settings: Settings, browser: bool = True) -> list[AppItem]:
    """Start the app and time health, the page request and (if possible) the rendered home page."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    state_dir = tempfile.mkdtemp(prefix="bench-app-")
    command = [sys.executable, "scripts/serve.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]  # fmt: skip
    with contextlib.ExitStack() as stack:
        page = _open_browser(stack) if browser else None
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=_app_env(settings, state_dir),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            health = _wait_for(f"{base}/_stcore/health", started, process)
            served = _wait_for(f"{base}/", started, process)
            items = [
                AppItem("app process → /_stcore/health", round(health, 2), None, "streamlit run, HTTP poll"),
                AppItem("app process → home page HTML served", round(served, 2), None, "GET / after health"),
            ]
            if page is not None:
                rendered = _rendered_seconds(page, base, started)
                how = "headless Chromium (launched before the app), heading visible"
                items.append(AppItem("app process → home page rendered", round(rendered, 2), None, how))
            return items
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            shutil.rmtree(state_dir, ignore_errors=True)


def time_first_answers(profile: Profile, settings: Settings) -> list[AppItem]:
    """Each demo's first answer in a fresh process (cold) and the same call again (warm)."""
    items = []
    for task in _DEMO_TASKS:
        bench = prepare_model(task, settings, quick=profile.name != "full", tiny=profile.tiny_models)
        command = [sys.executable, "-m", "benchmarks.first_answer", task, bench.hub_id, str(profile.new_tokens)]
        env = _app_env(bench.settings, tempfile.gettempdir())
        completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            items.append(AppItem(f"{task} page → first answer", None, None, f"failed: {completed.stderr[-300:]}"))
            continue
        timing: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        items.append(
            AppItem(f"{task} page → first answer", timing["cold_seconds"], timing["warm_seconds"], timing["how"])
        )
    return items


def run_app(profile: Profile, settings: Settings) -> dict[str, Any]:
    """Every app timing, with how each was taken."""
    items = time_home_page(settings, browser=profile.app_browser)
    if profile.app_pages:
        items += time_first_answers(profile, settings)
    notes = [
        "Demo first answers are timed on the backend call path each page makes, in a fresh process "
        "(imports + model cache get + demo call), not through the browser."
    ]
    return {"items": [item.to_dict() for item in items], "notes": notes}
