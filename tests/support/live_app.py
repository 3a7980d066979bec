"""A real ``streamlit run app.py`` (through ``scripts/serve.py``) on loopback, with tiny offline models, for the browser and load tests.

The models folder holds the tiny models of ``tests/tiny_models.py`` and, under the mirror folder
names the loader looks for (``<org>--<name>``), a copy of the tiny model of the same task for
every catalogue hub id, so every demo's default model loads offline in a second. One server is
shared by every test of the session and stopped at its end, with any training worker it spawned.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from backend.models.resolve import catalogue
from tests.support import tiny_models

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
# Streamlit marks its root element with the script's state; "notRunning" means the run finished.
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Elements of the previous run that the current run has not redrawn yet.
STALE = '[data-testid="stElementContainer"][data-stale="true"]'
# A widget whose code is still loading: Streamlit draws a skeleton in its place, after the run.
LOADING = '[data-testid="stElementContainer"] [data-testid="stSkeleton"]'
NO_BROWSER = f"{CHROMIUM} is missing: run scripts/install-browser.sh (apt-get install chromium) to run browser tests"
_STARTUP_SECONDS = 90
# Settings a developer's shell might carry that would change what the tests see.
_CLEARED_ENV = ("LSM_ACCESS_PASSWORD_HASH", "LSM_PROTECTED", "LSM_QUEUE", "LSM_REDIS_URL")


def free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build_offline_models(models_dir: Path) -> dict[str, Path]:
    """Tiny models per task, plus a mirror folder of the same tiny model for every catalogue hub id."""
    tiny = tiny_models.build_all(models_dir / "tiny")
    for spec in catalogue.CATALOGUE:
        mirror = models_dir / spec.hub_id.replace("/", "--")
        if not mirror.exists():
            shutil.copytree(tiny[spec.task], mirror)
    return tiny


# The demos' and the fine-tuning studio's default tasks (translation: the en→zh default).
STANDIN_TASKS = (
    catalogue.SENTIMENT,
    catalogue.TRANSLATION,
    catalogue.IMAGE_CLASSIFICATION,
    catalogue.TEXT_GENERATION,
    catalogue.EMBEDDINGS,
)


def build_standin_models(cache: Path) -> Path:
    """A models folder whose default mirrors hold the real architectures with random weights.

    ``benchmarks.standins`` builds them (DistilBERT multilingual, OPUS-MT, ConvNeXt-T, Qwen2.5-0.5B
    in bfloat16, MiniLM-L12 multilingual) in mirror-shaped folders under ``cache``, once: a later
    call with the same cache reuses them. The returned folder, used as ``LSM_MODELS_DIR``, makes
    every demo load its default's stand-in through the production path, at the real size.
    """
    import dataclasses

    from backend.config import get_settings
    from benchmarks import standins

    settings = dataclasses.replace(get_settings(), models_dir=cache)
    folders = [standins.prepare_model(task, settings, quick=False).folder for task in STANDIN_TASKS]
    return folders[0].parent


@dataclass
class LiveApp:
    """A running app: its address, process and folders."""

    url: str
    process: subprocess.Popen
    root: Path
    models_dir: Path
    log_path: Path
    env: dict[str, str] = field(repr=False)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def server_process(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def spawned_workers(self) -> list[psutil.Process]:
        """Training workers started for this app (they run in their own session, outside its group)."""
        found = []
        for process in psutil.process_iter(["pid", "cmdline"]):
            try:
                if "backend.worker" not in " ".join(process.info["cmdline"] or []):
                    continue
                if process.environ().get("LSM_STATE_DIR") == str(self.state_dir):
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def stop(self) -> None:
        """Stop the server's process group and every worker it spawned, by process id."""
        workers = self.spawned_workers()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        for worker in workers:
            try:
                worker.terminate()
                worker.wait(timeout=15)
            except psutil.NoSuchProcess:
                continue
            except psutil.TimeoutExpired:
                worker.kill()


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


def start_app(
    root: Path,
    extra_env: dict[str, str] | None = None,
    models_dir: Path | None = None,
    command_prefix: list[str] | None = None,
    tiny: bool = True,
) -> LiveApp:
    """Start the app on a free loopback port with its state under ``root`` and wait until healthy.

    The tiny models are built in ``root/models`` unless ``models_dir`` already holds them, or
    ``tiny`` is off (the caller's models folder is complete). ``command_prefix`` runs before the
    server's command and must exec it (``memory_limit.MemoryGroup.command_prefix`` puts the server
    into a cgroup that way), so the process started is still the server's.
    """
    (root / "state").mkdir(parents=True, exist_ok=True)
    models_dir = models_dir or root / "models"
    if tiny and not (models_dir / "tiny").exists():
        build_offline_models(models_dir)
    env = {key: value for key, value in os.environ.items() if key not in _CLEARED_ENV}
    env.update(
        {
            "LSM_MODELS_DIR": str(models_dir),
            "LSM_STATE_DIR": str(root / "state"),
            "LSM_OFFLINE": "1",
            "LSM_DEVICE": "cpu",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
            # Tiny models' operations are too small to share between threads: with many sessions
            # at once, torch's two-thread pools wait on each other for the two cores (a tiny
            # translation took 4 s instead of 0.3 s). Real-size models keep the default.
            **({"OMP_NUM_THREADS": "1"} if tiny else {}),
            **(extra_env or {}),
        }
    )
    port = free_port()
    log_path = root / "streamlit.log"
    # The README's command serves through scripts/serve.py; so do the tests.
    command = [
        *(command_prefix or []),
        sys.executable,
        str(PROJECT_ROOT / "scripts" / "serve.py"),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    app = LiveApp(
        url=f"http://127.0.0.1:{port}", process=process, root=root, models_dir=models_dir, log_path=log_path, env=env
    )
    deadline = time.monotonic() + _STARTUP_SECONDS
    while not is_healthy(app.url):
        if process.poll() is not None or time.monotonic() > deadline:
            app.stop()
            raise RuntimeError(f"streamlit did not become healthy:\n{app.log_tail()}")
        time.sleep(0.3)
    return app


# One server and one browser for the whole session, whichever test module asks first; each module
# imports the fixtures below, and the first teardown at the session's end stops them.
_shared: dict[str, object] = {}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory):
    """The app every browser and load test of this session talks to (started once)."""
    app = _shared.get("app")
    if not isinstance(app, LiveApp) or app.process.poll() is not None:
        app = _shared["app"] = start_app(tmp_path_factory.mktemp("live-app"))
    yield app
    if _shared.pop("app", None) is not None:
        app.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped with a reason when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(NO_BROWSER)
    from playwright.sync_api import sync_playwright

    if "browser" not in _shared:
        playwright = sync_playwright().start()
        _shared["playwright"] = playwright
        _shared["browser"] = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
    yield _shared["browser"]
    chromium = _shared.pop("browser", None)
    if chromium is not None:
        _shared.pop("contexts", None)
        chromium.close()
        _shared.pop("playwright").stop()


@contextlib.contextmanager
def reused_tab(browser, **context_options) -> Iterator:
    """A new tab in the session's browser context for ``context_options`` (viewport, locale, ...),
    with no cookies and, once the tab closes, no storage left by it.

    A context of its own per test starts with an empty HTTP cache, so each test fetched and parsed
    Streamlit's frontend again: six pages took 13 s in fresh contexts and 6-7 s in one. Here only
    the cache of the app's static files carries over, as for any returning visitor; the first visit
    is tested on fresh servers (tests/e2e/test_first_use_browser.py, test_sign_in_browser.py).
    """
    contexts = _shared.setdefault("contexts", {})
    key = repr(sorted(context_options.items()))
    if key not in contexts:
        contexts[key] = browser.new_context(**context_options)
    context = contexts[key]
    context.clear_cookies()
    tab = context.new_page()
    try:
        yield tab
    finally:
        try:
            # Streamlit keeps the sidebar's state and width, and the theme, in the origin's storage.
            if tab.url.startswith("http"):
                tab.evaluate("() => localStorage.clear()")
            tab.close()
        except Exception:  # noqa: BLE001 - a crashed or hung tab: what it left is unknown
            contexts.pop(key, None)
            context.close()


@pytest.fixture(scope="session")
def warmed_app(browser, live_app):
    """The app after one browser visit to its root.

    The first script run imports torch, transformers and the pages; doing it once here keeps that
    wait out of every test's page timeouts. (A first visit by deep link is tested on its own
    fresh server.)
    """
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(live_app.url)
    tab.wait_for_selector(IDLE, timeout=90_000)
    tab.wait_for_selector("h1", timeout=90_000)
    context.close()
    return live_app


# --- what every browser test checks on a page -------------------------------------------------

_IDLE_TIMEOUT_MS = 90_000
# Streamlit's own error box, and Python's traceback header, must never reach a user.
_EXCEPTION = '[data-testid="stException"]'
_TRACEBACK = "Traceback (most recent call last)"


def wait_until_idle(page) -> None:
    """Wait for the script run to finish, its leftovers from the last run to go, every widget to be
    drawn, and a heading."""
    page.wait_for_selector(IDLE, timeout=_IDLE_TIMEOUT_MS)
    page.wait_for_function(f"() => !document.querySelector('{STALE}')", timeout=_IDLE_TIMEOUT_MS)
    page.wait_for_function(f"() => !document.querySelector('{LOADING}')", timeout=_IDLE_TIMEOUT_MS)
    page.wait_for_selector("h1", timeout=_IDLE_TIMEOUT_MS)


# Where every label and legend of every visible chart is drawn, rounded to pixels, as one string.
_CHART_LABEL_BOXES = """() => JSON.stringify([...document.querySelectorAll('.js-plotly-plot')]
  .filter(plot => plot.offsetParent !== null)
  .map(plot => {
    const svg = plot.querySelector('svg.main-svg');
    const box = (el) => { const r = el.getBoundingClientRect();
      return [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)]; };
    return [svg ? box(svg) : null, ...[...plot.querySelectorAll('svg text, g.legend')].map(box)];
  }))"""
# True once every visible chart has drawn its SVG and no box has moved for ``quiet`` ms; its state
# lives on the window, which ``wait_until_charts_settle`` clears first.
_CHARTS_SETTLED = f"""(quiet) => {{
  const boxes = ({_CHART_LABEL_BOXES})();
  const drawn = [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null)
    .every(p => {{ const svg = p.querySelector('svg.main-svg'); return svg && svg.getBoundingClientRect().width > 0; }});
  const now = performance.now();
  const last = window.__lsmChartBoxes;
  if (!drawn || !last || last.boxes !== boxes) {{ window.__lsmChartBoxes = {{boxes, since: now}}; return false; }}
  return now - last.since >= quiet;
}}"""
_CHARTS_QUIET_MS = 500


def wait_until_charts_settle(page) -> None:
    """Wait until Plotly has laid out every visible chart's labels: none has moved for half a second.

    Plotly places labels after the first paint, and again after a resize or when a tab that holds
    a chart opens. A fixed pause of 1-2 s was too short on a busy machine and wasted time on a
    quiet one; this waits as long as the labels are still moving, and no longer.
    """
    page.evaluate("() => { window.__lsmChartBoxes = null; }")
    page.wait_for_function(_CHARTS_SETTLED, arg=_CHARTS_QUIET_MS, polling=100, timeout=_IDLE_TIMEOUT_MS)


def upload_files(page, label: str, files: str | Path | list[str] | list[Path]) -> None:
    """Put ``files`` into the file uploader labelled ``label``.

    Streamlit draws a widget once its code has loaded, which can be after the script run has
    finished, so "the first uploader on the page" was sometimes the second one: a training table
    went into the validation uploader about once in thirty runs. ``wait_until_idle`` now waits for
    those widgets too; picking the dropzone by its label (its aria-label) makes sure anyway.
    """
    dropzone = page.locator(f'[data-testid="stFileUploaderDropzone"][aria-label="{label}"]')
    paths = [str(path) for path in files] if isinstance(files, list) else str(files)
    dropzone.locator('input[type="file"]').set_input_files(paths)


def queue_text_training(page, app_url: str, folder: Path, title: str, language: str = "en") -> None:
    """On the New training job page, upload 24 learnable labelled texts, name the model ``title``
    and start training; returns once the page says the job is queued. ``language`` is the page's
    (the job's messages and card are in the language of whoever started it)."""
    from backend.i18n import translated
    from tests.support.training_data import learnable_texts

    def say(text: str) -> str:
        return translated(text, language)

    dataset = folder / "reviews.csv"
    learnable_texts(per_class=12).to_csv(dataset, index=False)
    page.goto(f"{app_url}/new_job?lang={language}")
    wait_until_idle(page)
    upload_files(page, say("Training table"), dataset)
    page.get_by_text(say("{frame:,} rows · first {PREVIEW_ROWS} shown").split(" · ")[0].format(frame=24)).wait_for()
    page.get_by_role("textbox", name=say("Model title")).fill(title)
    page.get_by_role("textbox", name=say("Model title")).press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name=say("Start training")).click()
    page.get_by_text(say("Job queued: {value}.").split("{")[0].strip()).wait_for()


def assert_no_exception(page, where: str) -> None:
    assert page.locator(_EXCEPTION).count() == 0, f"{where}: {page.locator(_EXCEPTION).first.inner_text()}"
    assert _TRACEBACK not in page.inner_text("body"), where


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
