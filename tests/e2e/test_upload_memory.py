"""Ten 95 MB files sent to the running app inside Community Cloud's 2.7 GB: refused, not kept.

Streamlit keeps uploads in the server's memory. This test sends what the hostile-input round
sent (ten 95 MB files at once to one session) the way an attacker would: straight to the upload
route with the session's own id and XSRF token, so the browser's per-widget size check is not in
the way. The server must stay alive and answering, keep no more than the session's budget, say in
words on the page why the others were not kept, and give the memory back once the browser is gone.
"""

from __future__ import annotations

import concurrent.futures
import time
import urllib.error
import urllib.request
import uuid

import psutil
import pytest
from PIL import Image

from tests.support import memory_limit
from tests.support.live_app import (  # noqa: F401 - fixtures
    assert_no_exception,
    browser,
    is_healthy,
    start_app,
    upload_files,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MB = 2**20
FILES = 10
FILE_BYTES = 95 * MB
VISITOR_BUDGET_MB = 200


@pytest.fixture(scope="module")
def memory_group():
    capability = memory_limit.detect()
    if not capability.available:
        pytest.skip(capability.reason)
    group = memory_limit.MemoryGroup.create(capability, memory_limit.COMMUNITY_CLOUD_BYTES)
    yield group
    group.remove()


def _put(url: str, headers: dict[str, str], body: bytes, boundary: str) -> int:
    request = urllib.request.Request(url, data=body, method="PUT")
    for name in ("cookie", "x-xsrftoken", "origin"):
        if name in headers:
            request.add_header(name, headers[name])
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def test_ten_95_mb_uploads_are_refused_past_the_budget_and_memory_comes_back(
    browser,  # noqa: F811
    memory_group,
    tmp_path,
):
    picture = tmp_path / "small.png"
    Image.new("RGB", (32, 32), (10, 120, 200)).save(picture)
    app = start_app(
        tmp_path / "app",
        extra_env={"LSM_UPLOAD_VISITOR_MB": str(VISITOR_BUDGET_MB)},
        command_prefix=memory_group.command_prefix(),
    )
    memory_group.bind(app.process.pid)
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{app.url}/image_classification", timeout=120_000)
        wait_until_idle(page)
        page.get_by_role("tab", name="Batch (several images)").click()
        # One ordinary upload shows the session's id and XSRF token, as it would to an attacker.
        with page.expect_request(lambda r: "/_stcore/upload_file/" in r.url and r.method == "PUT") as sent:
            upload_files(page, "Images", picture)
        wait_until_idle(page)
        headers = sent.value.all_headers()
        # The first script run installed the server hooks: the metrics say nothing to a visitor.
        with urllib.request.urlopen(f"{app.url}/_stcore/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert not any(family in metrics for family in ("cache_memory_bytes", "session", "uploaded")), metrics
        session_id = sent.value.url.split("/_stcore/upload_file/")[1].split("/")[0]
        server = app.process.pid
        before = _rss(server)

        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="big.png"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n".encode()
            + b"\0" * FILE_BYTES
            + f"\r\n--{boundary}--\r\n".encode()
        )
        urls = [f"{app.url}/_stcore/upload_file/{session_id}/{uuid.uuid4()}" for _ in range(FILES)]
        with concurrent.futures.ThreadPoolExecutor(FILES) as pool:
            statuses = list(pool.map(_put, urls, [headers] * FILES, [body] * FILES, [boundary] * FILES))
        del body

        kept = statuses.count(204)
        assert kept == VISITOR_BUDGET_MB // 95, statuses  # two fit in 200 MB beside the small picture
        assert statuses.count(413) == FILES - kept, statuses
        assert app.process.poll() is None and is_healthy(app.url), app.log_tail()
        assert memory_group.oom_kills() == 0
        # The kept files are held; the refused ones are not.
        held = _rss(server) - before
        assert held < (kept + 2) * FILE_BYTES, f"{held / MB:.0f} MB more after the upload"
        page.get_by_text("big.png (95 MB) was not kept").first.wait_for(timeout=60_000)
        assert f"limited to {VISITOR_BUDGET_MB} MB per visitor" in page.inner_text("body")
        assert_no_exception(page, "upload refused")

        context.close()
        deadline = time.monotonic() + 90
        while _rss(server) - before > 60 * MB and time.monotonic() < deadline:
            time.sleep(1)
        after = _rss(server)
        print(
            f"server RSS: {before / MB:.0f} MB before, +{held / MB:.0f} MB after the upload, "
            f"{after / MB:.0f} MB after the browser left; group peak {(memory_group.kernel_peak_bytes() or 0) / MB:.0f} MB; "
            f"statuses {statuses}"
        )
        assert after - before <= 60 * MB, f"{(after - before) / MB:.0f} MB still held after the browser left"
        assert is_healthy(app.url)
    finally:
        app.stop()
