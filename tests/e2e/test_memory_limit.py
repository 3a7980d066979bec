"""Community Cloud size: the app and its worker inside a 2.7 GB memory limit, under a full load.

The server (``scripts/serve.py``, as users run it) starts inside a cgroup the test makes, limited
to 2.7 GB with no swap; the worker it spawns inherits the group. Every demo's default model is its
real architecture with random weights (``benchmarks.standins``), so the weights weigh what the
real ones do. Then, through Chromium: each demo runs once (every default loaded in the server),
20 sessions run demos at once, an image batch of the largest allowed size (50 images, four of them
at the 40-megapixel cap, 200 megapixels in all) runs in the worker, and a 50 MB training table is
checked. Nothing may be killed, and the memory the kernel cannot reclaim (anonymous memory: heaps,
tensors made at run time) must leave room for the largest default's weights, which are mapped
from their files (page cache the kernel drops and re-reads at the limit). Float32 is forced
(``LSM_CPU_BFLOAT16=off``), the larger case, as on a CPU without bfloat16 units. The peaks, per
phase and per process, are printed and written to ``test-artifacts/memory-limit.json``, with the
torch build the server ran with (the test's own interpreter): PyPI's CUDA build of torch holds about
twice the CPU build's memory after ``import torch``, in the server and again in the worker, so a
peak means little without it (``benchmarks/RESULTS.md`` has both).

Set ``LSM_TEST_STANDINS_CACHE`` to a folder to keep the stand-ins (2.3 GB, one to two minutes to build)
between runs; otherwise they are built in the session's models folder (shared with
``tests/backend/models/test_engines.py``, which needs two of them).
"""

from __future__ import annotations

import json
import os
import re
import sysconfig
import time
from pathlib import Path

import pytest
from PIL import Image

from backend import uploads
from backend.inference import image_classification
from backend.jobs.store import SUCCEEDED, JobStore
from backend.models.resolve import catalogue
from tests.support import memory_limit
from tests.support.live_app import (  # noqa: F401 - fixtures
    PROJECT_ROOT,
    assert_no_exception,
    browser,
    build_standin_models,
    is_healthy,
    screenshot,
    start_app,
    upload_files,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSIONS = 20
REPORT = PROJECT_ROOT / "test-artifacts" / "memory-limit.json"
_FOOTER = re.compile(r"\d[\d,]* ms")
_TIMEOUT_MS = 180_000
# Page, example button: one run of each loads every demo's default model.
_DEMOS = (
    ("sentiment", "Delighted customer"),
    ("translation", "English → Chinese"),
    ("image_classification", "Cat"),
    ("text_generation", "Explain fine-tuning"),
)

_DEMO_TASKS = (catalogue.SENTIMENT, catalogue.TRANSLATION, catalogue.IMAGE_CLASSIFICATION, catalogue.TEXT_GENERATION)


@pytest.fixture(scope="module")
def memory_group():
    capability = memory_limit.detect()
    if not capability.available:
        pytest.skip(capability.reason)
    group = memory_limit.MemoryGroup.create(capability, memory_limit.COMMUNITY_CLOUD_BYTES)
    yield group
    group.remove()


@pytest.fixture(scope="module")
def standin_models(settings) -> Path:
    # The session's models folder by default: test_engines builds the DistilBERT and OPUS-MT
    # stand-ins there already, and building them twice cost half a minute.
    cache = os.environ.get("LSM_TEST_STANDINS_CACHE")
    return build_standin_models(Path(cache) if cache else settings.models_dir)


def _largest_image_batch(folder: Path) -> list[Path]:
    """50 PNGs, four at the 40-megapixel cap and the rest filling the batch budget to just under it.

    Flat colours keep the files small (a few hundred KB) and quick to write; decoding costs the
    same memory as a photo of that size.
    """
    folder.mkdir(parents=True, exist_ok=True)
    big_side = int(uploads.MAX_IMAGE_PIXELS**0.5)
    big_count = 4
    small_count = image_classification.MAX_IMAGES - big_count
    small_side = int(((uploads.MAX_BATCH_PIXELS - big_count * big_side**2) / small_count) ** 0.5)
    sizes = [big_side] * big_count + [small_side] * small_count
    paths = []
    for index, side in enumerate(sizes):
        path = folder / f"image-{index:02d}.png"
        if not path.exists():
            Image.new("RGB", (side, side), (index * 5 % 256, 90, 160)).save(path, compress_level=1)
        paths.append(path)
    assert sum(side * side for side in sizes) <= uploads.MAX_BATCH_PIXELS
    return paths


def _largest_table(path: Path) -> int:
    """A text,label CSV just under the 50 MB table limit (and the row limit); returns its rows."""
    words = [
        "quality",
        "delivery",
        "price",
        "support",
        "refund",
        "screen",
        "battery",
        "service",
        "friendly",
        "slow",
        "broken",
        "great",
    ]
    budget = uploads.MAX_TABLE_BYTES - 64 * 1024
    rows = uploads.MAX_TABLE_ROWS - 1
    width = budget // rows - 12
    lines = ["text,label"]
    for index in range(rows):
        text = " ".join(words[(index + k) % len(words)] for k in range(width // 7))[: width - 8] + f" {index:07d}"
        lines.append(f"{text},{'good' if index % 2 else 'bad'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size <= uploads.MAX_TABLE_BYTES
    return rows


def torch_build() -> dict[str, object]:
    """The torch the server and its worker run: they start with this process's interpreter."""
    import torch

    cuda = torch.version.cuda
    return {"version": torch.__version__, "cuda": cuda, "build": f"CUDA {cuda}" if cuda else "CPU"}


def _run_example(tab, url: str, path: str, button: str) -> None:
    tab.goto(f"{url}/{path}")
    wait_until_idle(tab)
    if path == "text_generation":
        # Random weights never stop early: 16 new tokens (the slider's minimum) keep the reply short.
        tab.get_by_text("Generation settings").click()
        slider = tab.get_by_role("slider").nth(2)
        slider.focus()
        slider.press("Home")
        wait_until_idle(tab)
    tab.get_by_role("button", name=button).first.click()
    tab.get_by_text(_FOOTER).filter(visible=True).first.wait_for(timeout=_TIMEOUT_MS)
    wait_until_idle(tab)
    assert_no_exception(tab, path)


def _wait_for_job(store: JobStore, known: set[str], timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [job for job in store.list_jobs() if job.id not in known]
        if new and new[0].is_finished:
            assert new[0].status == SUCCEEDED, new[0].error
            return new[0].id
        time.sleep(0.5)
    raise AssertionError("the image batch did not finish in time")


def test_app_and_worker_stay_within_community_cloud_memory(browser, memory_group, standin_models, tmp_path):  # noqa: F811
    images = _largest_image_batch(tmp_path / "images")
    table = tmp_path / "reviews.csv"
    table_rows = _largest_table(table)

    # The app is charged for the model files and libraries it reads, as on a host of its own.
    memory_limit.evict_from_page_cache(standin_models)
    memory_limit.evict_from_page_cache(Path(sysconfig.get_paths()["purelib"]), pattern="*.so*")
    app = start_app(
        tmp_path / "app",
        extra_env={"LSM_CPU_BFLOAT16": "off"},
        models_dir=standin_models,
        command_prefix=memory_group.command_prefix(),
        tiny=False,
    )
    memory_group.bind(app.process.pid)
    watch = memory_limit.MemoryWatch(memory_group, app.process.pid)
    timings: dict[str, float] = {}
    try:
        assert app.process.pid in memory_group.pids(), "the server is not in the memory group"
        with watch:
            started = time.monotonic()
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            first = context.new_page()
            first.set_default_timeout(_TIMEOUT_MS)
            first.goto(app.url)
            wait_until_idle(first)
            watch.set_phase("demos: every default model loads")
            for path, button in _DEMOS:
                _run_example(first, app.url, path, button)
            timings["demos_s"] = time.monotonic() - started

            watch.set_phase(f"{SESSIONS} sessions run demos at once")
            tabs = [first] + [context.new_page() for _ in range(SESSIONS - 1)]
            plans = [_DEMOS[i % 3] for i in range(SESSIONS)]  # the chat's reply is the slow one; once is enough
            for tab, (path, _) in zip(tabs, plans, strict=True):
                tab.set_default_timeout(_TIMEOUT_MS)
                tab.goto(f"{app.url}/{path}", wait_until="commit")
            for tab in tabs:
                wait_until_idle(tab)
            for tab, (_, button) in zip(tabs, plans, strict=True):
                tab.get_by_role("button", name=button).first.click(no_wait_after=True)
            for tab, (path, _) in zip(tabs, plans, strict=True):
                tab.get_by_text(_FOOTER).filter(visible=True).first.wait_for()
                wait_until_idle(tab)
                assert_no_exception(tab, f"session on {path}")
            timings["sessions_s"] = time.monotonic() - started - timings["demos_s"]

            # The 20 sessions stay open from here on.
            watch.set_phase("image batch: 50 images, 200 megapixels, in the worker")
            store = JobStore(app.state_dir / "jobs.sqlite3")
            known = {job.id for job in store.list_jobs()}
            batch_tab = tabs[2]
            batch_tab.goto(f"{app.url}/image_classification")
            wait_until_idle(batch_tab)
            batch_tab.get_by_role("tab", name="Batch (several images)").click()
            upload_files(batch_tab, "Images", images)
            wait_until_idle(batch_tab)
            batch_tab.get_by_role("button", name="Classify every image").click()
            _wait_for_job(store, known)
            assert_no_exception(batch_tab, "image batch")
            timings["batch_s"] = time.monotonic() - started - sum(timings.values())

            watch.set_phase("50 MB table checked")
            table_tab = tabs[3]
            table_tab.goto(f"{app.url}/new_job")
            wait_until_idle(table_tab)
            upload_files(table_tab, "Training table", table)
            table_tab.get_by_text(f"{table_rows:,} rows").wait_for(timeout=_TIMEOUT_MS)
            wait_until_idle(table_tab)
            table_tab.get_by_role("button", name="Check data").click()
            table_tab.get_by_text("Data looks usable").wait_for(timeout=_TIMEOUT_MS)
            wait_until_idle(table_tab)
            assert_no_exception(table_tab, "table check")
            timings["table_s"] = time.monotonic() - started - sum(timings.values())
            screenshot(table_tab, "memory-limit-table-checked")
            context.close()
            watch.set_phase("after")
        workers = [pid for pid in memory_group.pids() if pid != app.process.pid]
        alive = app.process.poll() is None and is_healthy(app.url)
    finally:
        report = {
            "torch": torch_build(),
            **watch.report(),
            "timings_s": {key: round(value, 1) for key, value in timings.items()},
        }
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
        app.stop()

    assert report["oom_kills"] == 0, f"the kernel killed a process in the group: {report}"
    # Weights are mapped from their files, so at the limit the kernel drops and re-reads them
    # rather than killing; memory it cannot drop must still leave room for the largest default
    # model's weights, or every reply of that model would read it from disk again.
    largest = max(catalogue.default_model(task).memory_mb() for task in _DEMO_TASKS)
    assert report["group_anonymous_peak_mb"] + largest <= report["limit_mb"], report
    assert alive, f"the server died or stopped answering:\n{app.log_tail()}"
    assert workers, "the worker that ran the batch is not in the group (or has died)"
    assert "Traceback" not in app.log_path.read_text(encoding="utf-8", errors="replace"), app.log_tail()
