"""Many users at once: 20 browser sessions on loopback run demos and submit training jobs together.

One Chromium holds 20 isolated contexts (separate cookies and Streamlit sessions), which fits two
CPU cores far better than 20 browsers. Every session first loads its page, then all of them fire
their request within a moment of each other, so the server runs 20 script runs at once. The
server's memory is sampled throughout (psutil on the server process).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from backend.jobs.store import FAILED, JobStore
from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    live_app,
    screenshot,
    upload_files,
    wait_until_idle,
    warmed_app,
)
from tests.support.training_data import learnable_texts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSIONS = 20
JOB_SESSIONS = 4
# The tiny models weigh a few MB; 20 sessions' state, results and the queue stay well under this.
# A leak of a model copy or of every upload per session would cross it.
MAX_GROWTH_MB = 300
_FOOTER = re.compile(r"\d[\d,]* ms")
# Demo pages and the example button each session clicks, in turn.
_DEMOS = (
    ("sentiment", "Delighted customer"),
    ("translation", "English → Chinese"),
    ("image_classification", "Cat"),
    ("sentiment", "Angry review"),
)


class MemorySampler:
    """Samples the server's resident memory on a thread until stopped; keeps the peak."""

    def __init__(self, process) -> None:
        self._process = process
        self._stop = threading.Event()
        self.peak = process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _warm_models(browser, url: str) -> None:  # noqa: F811
    """Load every demo model once, so the load measures serving, not first loads."""
    context = browser.new_context()
    tab = context.new_page()
    for path, button in _DEMOS[:3]:
        tab.goto(f"{url}/{path}")
        wait_until_idle(tab)
        tab.get_by_role("button", name=button).first.click()
        tab.get_by_text(_FOOTER).first.wait_for()
    context.close()


def test_twenty_concurrent_sessions_run_demos_and_submit_jobs(browser, warmed_app, tmp_path):  # noqa: F811
    app = warmed_app
    dataset = tmp_path / "load.csv"
    learnable_texts(per_class=8).to_csv(dataset, index=False)
    _warm_models(browser, app.url)
    server = app.server_process()
    baseline = server.memory_info().rss
    log_start = app.log_path.stat().st_size
    jobs_before = {job.id for job in JobStore(app.state_dir / "jobs.sqlite3").list_jobs()}

    # One context, many tabs: each tab is its own Streamlit session (its own websocket), and the
    # tabs share the browser's cache of the app's JavaScript, which keeps two cores free for the server.
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tabs = [context.new_page() for _ in range(SESSIONS)]
    for tab in tabs:
        tab.set_default_timeout(120_000)
    plans = [("new_job", None) if i < JOB_SESSIONS else _DEMOS[i % len(_DEMOS)] for i in range(SESSIONS)]

    with MemorySampler(server) as memory:
        for tab, (path, _) in zip(tabs, plans, strict=True):
            tab.goto(f"{app.url}/{path}", wait_until="commit")
        for tab, (path, _) in zip(tabs, plans, strict=True):
            wait_until_idle(tab)
            if path == "new_job":
                upload_files(tab, "Training table", dataset)
                tab.get_by_text("16 rows").wait_for()
                wait_until_idle(tab)
        # Everyone acts within a moment: the server now runs all these scripts at once.
        for tab, (path, button) in zip(tabs, plans, strict=True):
            if path == "new_job":
                tab.get_by_role("button", name="Start training").click(no_wait_after=True)
            else:
                tab.get_by_role("button", name=button).first.click(no_wait_after=True)
        for tab, (path, _) in zip(tabs, plans, strict=True):
            if path == "new_job":
                tab.get_by_text("Job queued").wait_for()
            else:
                tab.get_by_text(_FOOTER).first.wait_for()
            wait_until_idle(tab)
            assert_no_exception(tab, f"load session on {path}")

    screenshot(tabs[-1], "load-last-session")
    context.close()

    growth_mb = (memory.peak - baseline) / 2**20
    print(f"server memory: {baseline / 2**20:,.0f} MB before, {memory.peak / 2**20:,.0f} MB at the peak")
    assert growth_mb < MAX_GROWTH_MB, f"server memory grew {growth_mb:,.0f} MB under load"
    new_log = Path(app.log_path).read_bytes()[log_start:].decode("utf-8", errors="replace")
    assert "Traceback" not in new_log, new_log[-3000:]
    store = JobStore(app.state_dir / "jobs.sqlite3")
    submitted = [job for job in store.list_jobs() if job.id not in jobs_before]
    # Queuing under load is what is tested (training is tested elsewhere): stop the jobs, or the
    # shared app's worker trains them, one after another, while the next test files run.
    for job in submitted:
        store.request_cancel(job.id)
    assert len(submitted) == JOB_SESSIONS
    assert all(job.status != FAILED for job in submitted), [job.error for job in submitted]
