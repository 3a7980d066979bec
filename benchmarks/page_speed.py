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

CPU pinning (machines with 2 or more CPUs): Chromium, every one of its processes, gets one CPU;
the Streamlit server and this process's backend rounds (every thread) get the others. In use the
browser runs on the reader's computer, not beside the model: unpinned on a 2-core machine its
rendering competed with the app's generation for the same cores, so the browser's figure measured
the benchmark's own co-location (a quiet unpinned run: ×0.89 of the backend, while the app's own
rate matched the bare backend; stacked observers, see ``_OBSERVER``, added to it). Pinned, the app
and the backend get the same CPUs, so their rates stay comparable, and Chromium's cost shows only
as delivery delay. The price on 2 cores: the app's one CPU also runs the Streamlit server's own
threads, which a 2-core production server spreads over both (``--no-pin`` in ``chat_speed``). Playwright's driver and this
process's browser-round waiting sit on the browser's CPU too (they are the harness, not the app).
The pinning and each process's actual CPUs are in the result's ``pinning``.

Per browser round the app's own pace is read from the reply's footer (tokens/s and first-token
time): ``decode_tokens_per_second`` = tokens after the first chunk / (reply time - first-chunk
time), the tokens counted as for the row's own rate (the page draws the first chunk at once, so
the first drawing is the app's first chunk); the backend rounds compute it from
``GenerationResult``. App against backend is then the generation slowdown, browser against app
the delivery loss.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from backend.config import PROJECT_ROOT, Settings, to_environment

_CHROMIUM = "/usr/bin/chromium"
_TIMEOUT_MS = 600_000
MODEL_TITLE = "SmolLM2 135M Instruct"
PROMPT = "Explain in three sentences what fine-tuning a language model means."
SYSTEM = "You are a helpful assistant. Answer in the language of the question."

# Runs in the page: record (time, text) whenever the newest assistant reply's text changes; count
# the observer's callbacks and the DOM mutation records they carried. One observer per page: an
# earlier version added one per reply and never disconnected them, so the third reply ran three
# (each changed length recorded three times: 66-109 "changes" for 25-40 drawings). It reads
# ``textContent``, which needs no layout; ``innerText`` forced a style and layout pass on every
# callback (3-4 per drawing), rendering work of the benchmark's own. innerText is read once, at the end.
_OBSERVER = """
() => {
  if (window.__observer) window.__observer.disconnect();
  window.__growth = [];
  window.__callbacks = 0;
  window.__records = 0;
  let seen = -1;
  window.__observer = new MutationObserver((records) => {
    window.__callbacks += 1;
    window.__records += records.length;
    const box = window.__replyBox();
    const text = box ? box.textContent : null;
    if (text !== null && text.length !== seen && text.trim().length) {
      seen = text.length;
      window.__growth.push([performance.now(), text]);
    }
  });
  window.__observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""

# The newest assistant reply's Markdown box, or null (installed with the observer).
_REPLY_BOX = """
() => {
  window.__replyBox = () => {
    const replies = document.querySelectorAll('[data-testid="stChatMessage"]');
    const last = replies[replies.length - 1];
    if (!last || !last.querySelector('[data-testid="stChatMessageAvatarAssistant"]')) return null;
    return last.querySelector('[data-testid="stMarkdown"]');
  };
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
    # The generating process's pace after its first chunk, by its own clock: (tokens - first_tokens)
    # / (reply time - first chunk time). Browser rounds: the app's (from its footer); 0 when not known.
    decode_tokens_per_second: float = 0.0
    # Browser rounds: DOM text changes while streaming, and the observer's callbacks and mutation
    # records over the whole reply (streaming and the rerun that redraws the conversation after it).
    extra: dict[str, Any] | None = None

    @property
    def tokens_per_second(self) -> float:
        return round((self.tokens - self.first_tokens) / self.seconds, 2) if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


# Exec the command (argv[2:]) on the CPUs listed in argv[1]; children and threads inherit them.
_EXEC_PINNED = (
    "import os, sys; os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(',')}); "
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


@dataclass(frozen=True)
class Pinning:
    """The browser's CPUs and the app side's (Streamlit server and the backend rounds)."""

    browser: tuple[int, ...]
    app: tuple[int, ...]


def plan_pinning(cpus: set[int] | None = None) -> Pinning | None:
    """One CPU for the browser, the rest for the app side; None with fewer than two CPUs."""
    usable = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    return Pinning((usable[0],), tuple(usable[1:])) if len(usable) >= 2 else None


def pinned_command(command: list[str], cpus: tuple[int, ...]) -> list[str]:
    """``command`` started on ``cpus`` only."""
    return [sys.executable, "-c", _EXEC_PINNED, ",".join(map(str, cpus)), *command]


def _pin_this_process(cpus: tuple[int, ...] | set[int]) -> None:
    """Every thread of this process onto ``cpus`` (Linux sets affinity per thread; new threads
    inherit their creator's)."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(tid), cpus)
    # As many torch threads as CPUs: two OpenMP threads spinning on one CPU crawl (0.4 tokens/s).
    import torch

    torch.set_num_threads(len(cpus))


def _chromium_wrapper(folder: str, cpus: tuple[int, ...]) -> str:
    """An executable that starts Chromium on ``cpus`` (all its processes inherit them)."""
    path = os.path.join(folder, "chromium-pinned")
    argv = " ".join(shlex.quote(part) for part in pinned_command([_CHROMIUM], cpus))
    with open(path, "w", encoding="utf-8") as script:
        script.write(f'#!/bin/sh\nexec {argv} "$@"\n')
    os.chmod(path, 0o755)
    return path


def _descendants_cpus() -> dict[str, list[int]]:
    """Each descendant process's name and CPUs (names merged when they agree), to record what the
    pinning actually did."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                names[int(entry)] = stat[stat.index("(") + 1 : stat.rindex(")")]
                parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, frontier = {}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = names[pid]
                frontier.append(pid)
    seen: dict[str, set[str]] = {}
    for pid, name in found.items():
        with contextlib.suppress(OSError):
            seen.setdefault(name, set()).add(",".join(map(str, sorted(os.sched_getaffinity(pid)))))
    return {name: sorted(cpus) for name, cpus in sorted(seen.items())}


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
def serve(app_root: Path, settings: Settings, cpus: tuple[int, ...] | None = None):
    """``streamlit run`` of ``app_root``'s app on a free loopback port, with the real models folder
    (on ``cpus`` only, when given)."""
    port = _free_port()
    state = tempfile.mkdtemp(prefix="bench-page-")
    served = replace(settings, state_dir=Path(state), offline=True, device="cpu", cpu_quantize="none")
    env = {**os.environ, **to_environment(served), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "scripts/serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
    if cpus:
        command = pinned_command(command, cpus)
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


def decode_rate(tokens_after_first: int, seconds: float, first_token_ms: float) -> float:
    """Tokens per second after the first chunk: those tokens / (reply time - first-chunk time)."""
    after_first = seconds - first_token_ms / 1000
    return round(tokens_after_first / after_first, 2) if tokens_after_first > 0 and after_first > 0 else 0.0


def page_reply(page: Any, count_tokens, new_tokens: int = 0) -> tuple[Rate, str]:
    """Send the prompt, wait for the reply's footer, and read the DOM's growth record.

    ``new_tokens``: the reply's generated token count (the backend's, same greedy reply): the
    footer shows tokens/s and the first-token time, not the count, which gives the reply time."""
    page.evaluate(_REPLY_BOX)
    page.evaluate(_OBSERVER)
    box = page.get_by_role("textbox").last
    box.fill(PROMPT)
    box.press("Enter")
    footer = page.get_by_text("tokens/s").last
    footer.wait_for(timeout=_TIMEOUT_MS)
    figures = re.search(r"([\d,.]+) tokens/s · first token after ([\d,.]+) ms", footer.inner_text())
    reported, first_token_ms = (float(group.replace(",", "")) for group in figures.groups())
    growth, callbacks, records, final_text = page.evaluate(
        "() => { window.__observer.disconnect();"
        " return [window.__growth, window.__callbacks, window.__records, window.__replyBox().innerText]; }"
    )
    # The rerun after the reply redraws the conversation; the streaming record ends where the text
    # stopped growing (the final redraw has the same text).
    last = next(index for index, (_, text) in enumerate(growth) if len(text) >= len(growth[-1][1]))
    first_time, first_text = growth[0]
    tokens, first_tokens = count_tokens(final_text), count_tokens(first_text)
    seconds = (growth[last][0] - first_time) / 1000
    decode = decode_rate(tokens - first_tokens, new_tokens / reported, first_token_ms) if reported else 0.0
    extra = {
        "dom_changes_after_streaming": len(growth) - last - 1,
        "observer_callbacks": callbacks,
        "mutation_records": records,
        # (ms after the first drawing, text length) of every recorded change.
        "growth": [[round(t - first_time), len(text)] for t, text in growth],
    }
    rate = Rate("browser", tokens, first_tokens, seconds, last + 1, reported, decode, extra)
    page.get_by_role("button", name="Clear conversation").click()
    _idle(page)
    return rate, final_text


def backend_reply(loaded: Any, max_new_tokens: int, count_tokens) -> tuple[Rate, str, int]:
    """The same prompt through ``stream_reply`` here, chunk arrival times recorded; also the new
    token count."""
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
    result = stream.result
    tokens, first_tokens = count_tokens(text), count_tokens(first_text)
    reported = result.tokens_per_second if result else 0.0
    decode = decode_rate(tokens - first_tokens, result.seconds, result.first_token_ms) if result else 0.0
    rate = Rate("backend", tokens, first_tokens, seconds, len(arrivals), reported, decode)
    return rate, text, result.new_tokens if result else 0


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def _mean(rows: list[dict], where: str, figure: str) -> float:
    values = [row[figure] for row in rows if row["where"] == where]
    return round(sum(values) / len(values), 2)


def measure(
    app_root: Path, loaded: Any, settings: Settings, rounds: int = 2, max_new_tokens: int = 96, pin: bool = True
) -> dict:
    """Alternating backend and browser replies; the mean of each, and their ratio. ``pin``: split
    the CPUs between the browser and the app side (see the module's docstring)."""
    from playwright.sync_api import sync_playwright

    tokenizer = loaded.preprocessor

    def count_tokens(text: str) -> int:
        return len(tokenizer(text.strip(), add_special_tokens=False)["input_ids"])

    pinning = plan_pinning() if pin else None
    own_cpus = os.sched_getaffinity(0)
    on_browser = (lambda: _pin_this_process(pinning.browser)) if pinning else (lambda: None)
    on_app = (lambda: _pin_this_process(pinning.app)) if pinning else (lambda: None)
    rows: list[dict] = []
    same_text = True
    processes: dict[str, list[str]] = {}
    folder = tempfile.mkdtemp(prefix="bench-chromium-")
    try:
        with serve(app_root, settings, pinning.app if pinning else None) as url:
            on_browser()  # Playwright's driver, started next, inherits the browser's CPU
            with sync_playwright() as playwright:
                executable = _chromium_wrapper(folder, pinning.browser) if pinning else _CHROMIUM
                browser = playwright.chromium.launch(executable_path=executable, headless=True)
                page = browser.new_page()
                open_chat(page, url, max_new_tokens)
                page_reply(page, count_tokens)  # warm-up: loads the model in the app
                on_app()
                backend_reply(loaded, 8, count_tokens)
                processes = _descendants_cpus()
                for _ in range(rounds):
                    on_app()
                    backend, backend_text, new_tokens = backend_reply(loaded, max_new_tokens, count_tokens)
                    on_browser()
                    shown, shown_text = page_reply(page, count_tokens, new_tokens)
                    same_text &= _letters(backend_text) == _letters(shown_text)
                    rows += [backend.to_dict(), shown.to_dict()]
                browser.close()
    finally:
        _pin_this_process(own_cpus)
        shutil.rmtree(folder, ignore_errors=True)
    mean = {where: _mean(rows, where, "tokens_per_second") for where in ("backend", "browser")}
    decode = {where: _mean(rows, where, "decode_tokens_per_second") for where in ("backend", "browser")}
    return {
        "app_root": str(app_root),
        "rows": rows,
        "backend_tokens_per_second": mean["backend"],
        "browser_tokens_per_second": mean["browser"],
        "browser_over_backend": round(mean["browser"] / mean["backend"], 3) if mean["backend"] else None,
        "same_text": same_text,
        # Generation speed as each process reports it: the app's (page footer) against this one's.
        "reported_app_tokens_per_second": _mean(rows, "browser", "reported_tokens_per_second"),
        "reported_backend_tokens_per_second": _mean(rows, "backend", "reported_tokens_per_second"),
        # After the first chunk: app / backend is the generation slowdown, browser / app the delivery loss.
        "decode_app_tokens_per_second": decode["browser"],
        "decode_backend_tokens_per_second": decode["backend"],
        "app_over_backend_decode": round(decode["browser"] / decode["backend"], 3) if decode["backend"] else None,
        "browser_over_app_decode": round(mean["browser"] / decode["browser"], 3) if decode["browser"] else None,
        "pinning": {
            "browser_cpus": list(pinning.browser) if pinning else None,
            "app_cpus": list(pinning.app) if pinning else None,
            "cpus": sorted(own_cpus),
            # What each process under this one actually ran on (name: CPU sets), taken mid-run.
            "processes": processes,
        },
        "max_new_tokens": max_new_tokens,
    }


def default_app_root() -> Path:
    return PROJECT_ROOT
