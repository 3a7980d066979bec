"""Does the chat page keep up with the model? Tokens/s seen in the browser against the backend's.

The real chat page is served by ``streamlit run`` (through ``scripts/serve.py``, as users get it)
from a given project checkout, and driven by headless Chromium: it picks the real SmolLM2-135M,
sets greedy decoding and a token budget, sends a prompt, and a ``MutationObserver`` records
``performance.now()`` each time the reply's text in the DOM grows. The browser's rate is the tokens
after the first drawing divided by the time from the first drawing to the last. The backend's rate
is taken the same way from ``stream_reply`` chunks in this process, same prompt and options (greedy,
so both produce the same reply). Rounds alternate between the two, so other load on the machine
falls on both. The server is idle while the backend generates, and this process idle while the
page does.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from backend.config import PROJECT_ROOT, Settings

_CHROMIUM = "/usr/bin/chromium"
_TIMEOUT_MS = 600_000
MODEL_TITLE = "SmolLM2 135M Instruct"
PROMPT = "Explain in three sentences what fine-tuning a language model means."
SYSTEM = "You are a helpful assistant. Answer in the language of the question."

# Runs in the page: record (time, text length) whenever the newest assistant reply's text changes.
_OBSERVER = """
() => {
  window.__growth = [];
  const replyText = () => {
    const replies = document.querySelectorAll('[data-testid="stChatMessage"]');
    const last = replies[replies.length - 1];
    if (!last || !last.querySelector('[data-testid="stChatMessageAvatarAssistant"]')) return null;
    const box = last.querySelector('[data-testid="stMarkdown"]');
    return box ? box.innerText : null;
  };
  let seen = -1;
  new MutationObserver(() => {
    const text = replyText();
    if (text !== null && text.length !== seen && text.trim().length) {
      seen = text.length;
      window.__growth.push([performance.now(), text]);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


@dataclass
class Rate:
    """One reply's streaming rate, first visible text to last."""

    where: str
    tokens: int
    first_tokens: int
    seconds: float
    updates: int
    # The generating process's own figure (new tokens / whole reply time, prefill included): the
    # page's footer, or the backend's GenerationResult. Equal figures put a gap in delivery.
    reported_tokens_per_second: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return round((self.tokens - self.first_tokens) / self.seconds, 2) if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.3)
    raise TimeoutError("the app did not become healthy")


@contextlib.contextmanager
def serve(app_root: Path, settings: Settings):
    """``streamlit run`` of ``app_root``'s app on a free loopback port, with the real models folder."""
    port = _free_port()
    state = tempfile.mkdtemp(prefix="bench-page-")
    env = dict(os.environ)
    env.update(LSM_MODELS_DIR=str(settings.models_dir), LSM_STATE_DIR=state, LSM_OFFLINE="1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", LSM_DEVICE="cpu", LSM_CPU_QUANTIZE="none")  # fmt: skip
    command = [sys.executable, "scripts/serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
    process = subprocess.Popen(command, cwd=app_root, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(state, ignore_errors=True)


def _idle(page: Any) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=_TIMEOUT_MS)


def open_chat(page: Any, url: str, max_new_tokens: int) -> None:
    """The chat page with SmolLM2 picked, greedy decoding and ``max_new_tokens`` (a multiple of 16)."""
    page.goto(f"{url}/text_generation")
    _idle(page)
    page.get_by_role("heading", name="Text generation").wait_for(timeout=_TIMEOUT_MS)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile(MODEL_TITLE)).click()
    _idle(page)
    page.get_by_text("Generation settings").click()
    sliders = page.get_by_role("slider")
    temperature = sliders.nth(0)
    temperature.focus()
    temperature.press("Home")
    _idle(page)
    budget = sliders.nth(2)
    budget.focus()
    for _ in range((256 - max_new_tokens) // 16):
        budget.press("ArrowLeft")
    _idle(page)


def page_reply(page: Any, count_tokens) -> tuple[Rate, str]:
    """Send the prompt, wait for the reply's footer, and read the DOM's growth record."""
    page.evaluate(_OBSERVER)
    box = page.get_by_role("textbox").last
    box.fill(PROMPT)
    box.press("Enter")
    footer = page.get_by_text("tokens/s").last
    footer.wait_for(timeout=_TIMEOUT_MS)
    reported = float(re.search(r"([\d,.]+) tokens/s", footer.inner_text()).group(1).replace(",", ""))
    growth = page.evaluate("() => window.__growth")
    # The rerun after the reply redraws the conversation; the streaming record ends where the text
    # stopped growing (the final redraw has the same text).
    final_text = growth[-1][1]
    last_time = next(t for t, text in growth if len(text) >= len(final_text))
    first_time, first_text = growth[0]
    tokens = count_tokens(final_text)
    rate = Rate("browser", tokens, count_tokens(first_text), (last_time - first_time) / 1000, len(growth), reported)
    page.get_by_role("button", name="Clear conversation").click()
    _idle(page)
    return rate, final_text


def backend_reply(loaded: Any, max_new_tokens: int, count_tokens) -> tuple[Rate, str]:
    """The same prompt through ``stream_reply`` here, chunk arrival times recorded."""
    from backend.inference import text_generation
    from backend.inference.text_generation import ChatMessage, GenerationOptions

    options = GenerationOptions(temperature=0, max_new_tokens=max_new_tokens)
    messages = [ChatMessage("system", SYSTEM), ChatMessage("user", PROMPT)]
    stream = text_generation.stream_reply(loaded, messages, options, threading.Event())
    arrivals: list[tuple[float, str]] = []
    text = ""
    for chunk in stream:
        text += chunk
        arrivals.append((time.perf_counter(), text))
    first_time, first_text = arrivals[0]
    seconds = arrivals[-1][0] - first_time
    reported = stream.result.tokens_per_second if stream.result else 0.0
    rate = Rate("backend", count_tokens(text), count_tokens(first_text), seconds, len(arrivals), reported)
    return rate, text


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def measure(app_root: Path, loaded: Any, settings: Settings, rounds: int = 2, max_new_tokens: int = 96) -> dict:
    """Alternating backend and browser replies; the median-free mean of each, and their ratio."""
    from playwright.sync_api import sync_playwright

    tokenizer = loaded.preprocessor

    def count_tokens(text: str) -> int:
        return len(tokenizer(text.strip(), add_special_tokens=False)["input_ids"])

    rows: list[dict] = []
    same_text = True
    with serve(app_root, settings) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_CHROMIUM, headless=True)
        page = browser.new_page()
        open_chat(page, url, max_new_tokens)
        page_reply(page, count_tokens)  # warm-up: loads the model in the app
        backend_reply(loaded, 8, count_tokens)
        for _ in range(rounds):
            backend, backend_text = backend_reply(loaded, max_new_tokens, count_tokens)
            shown, shown_text = page_reply(page, count_tokens)
            same_text &= _letters(backend_text) == _letters(shown_text)
            rows += [backend.to_dict(), shown.to_dict()]
        browser.close()
    mean, reported = {}, {}
    for where in ("backend", "browser"):
        rates = [row["tokens_per_second"] for row in rows if row["where"] == where]
        mean[where] = round(sum(rates) / len(rates), 2)
        own = [row["reported_tokens_per_second"] for row in rows if row["where"] == where]
        reported[where] = round(sum(own) / len(own), 2)
    return {
        "app_root": str(app_root),
        "rows": rows,
        "backend_tokens_per_second": mean["backend"],
        "browser_tokens_per_second": mean["browser"],
        "browser_over_backend": round(mean["browser"] / mean["backend"], 3) if mean["backend"] else None,
        "same_text": same_text,
        # Generation speed as each process reports it: the app's (page footer) against this one's.
        "reported_app_tokens_per_second": reported["browser"],
        "reported_backend_tokens_per_second": reported["backend"],
        "max_new_tokens": max_new_tokens,
    }


def default_app_root() -> Path:
    return PROJECT_ROOT
