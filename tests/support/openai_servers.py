"""Real OpenAI-compatible servers on loopback for the endpoint tests: no mocked HTTP.

- ``serve_chat``: ``transformers serve`` (the ``transformers[serving]`` extra) in a subprocess,
  offline, pinned to a local model folder. It serves ``/v1/chat/completions`` but has no
  ``/v1/embeddings`` and no API key option.
- ``serve_embeddings``: a small FastAPI + uvicorn server of ``/v1/embeddings`` over a real
  sentence-transformers model, in a subprocess (``python -m tests.support.openai_servers``), for
  the embeddings path that ``transformers serve`` lacks.
- ``FixedAnswerServer``: a ``http.server`` on loopback that answers every request with one
  status (401, 429...) the way OpenAI-compatible servers do, counting the requests it got.
- ``SilentServer``: accepts connections and never answers (timeouts); ``closed_port``: nobody.
- ``BrokenStreamServer``: starts a streamed chat reply, sends a few words, then drops the
  connection (a server that dies mid-reply).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.live_app import free_port
from tests.support.paths import PROJECT_ROOT

_STARTUP_SECONDS = 180


def serve_ready(folder: Path, target: Path) -> Path:
    """A copy of a model folder (weights linked, not copied) whose config names its architecture.

    ``transformers serve`` picks the model class from ``config.architectures``; configs converted
    from GGUF (the packaged SmolLM2) lack it. For a Llama-family chat model that is
    ``LlamaForCausalLM``; other model types keep whatever their config says.
    """
    target.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.name != "config.json" and not (target / path.name).exists():
            (target / path.name).symlink_to(path.resolve())
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if not config.get("architectures"):
        config["architectures"] = ["LlamaForCausalLM"] if config.get("model_type") == "llama" else []
    (target / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return target


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _offline_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


@contextmanager
def serve_chat(model_folder: Path, log: Path) -> Iterator[str]:
    """``transformers serve <folder>`` on a free loopback port; yields its base URL (``.../v1``)."""
    executable = Path(sys.executable).with_name("transformers")
    port = free_port()
    command = [str(executable), "serve", str(model_folder), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--device", "cpu", "--dtype", "float32"]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, env=_offline_env(), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    _wait_healthy(f"http://127.0.0.1:{port}/health", process, log)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(process)


@contextmanager
def serve_embeddings(model_folder: Path, log: Path, api_key: str = "") -> Iterator[str]:
    """The embeddings server of this module on a free loopback port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "tests.support.openai_servers", str(model_folder), str(port)]
    env = {**_offline_env(), "EMBEDDINGS_API_KEY": api_key}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    _wait_healthy(f"http://127.0.0.1:{port}/health", process, log)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(process)


class FixedAnswerServer:
    """Answers every request with ``status`` and an OpenAI-style error body (or ``body``), after
    ``delay`` seconds; counts the requests and the most it held at once."""

    def __init__(
        self,
        status: int,
        message: str = "",
        headers: dict[str, str] | None = None,
        body: dict | None = None,
        delay: float = 0.0,
    ) -> None:
        self.requests = 0
        self.max_in_flight = 0
        self.authorizations: list[str] = []
        in_flight = 0
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                nonlocal in_flight
                with lock:
                    server.requests += 1
                    in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, in_flight)
                    server.authorizations.append(self.headers.get("Authorization", ""))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                error = {"error": {"message": message or f"status {status}", "type": "error"}}
                payload = json.dumps(body or error).encode()
                with lock:
                    in_flight -= 1
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's method names

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def chat_completion(reply: str, prompt_tokens: int, completion_tokens: int) -> dict:
    """A non-streamed ``/v1/chat/completions`` answer, as OpenAI-compatible servers send it."""
    return {
        "id": "fixed",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class SilentServer:
    """Listens and accepts, but never answers: every request times out."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def close(self) -> None:
        self._socket.close()


class BrokenStreamServer:
    """Streams ``words`` of a chat reply as server-sent events, then closes the connection without
    ending the response, as a server that crashed mid-reply does; counts the requests it got."""

    def __init__(self, words: tuple[str, ...] = ("Half ", "a ")) -> None:
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's method name
                server.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for word in words:
                    delta = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                    event = f"data: {json.dumps({'id': 'b', 'object': 'chat.completion.chunk', **delta})}\n\n"
                    data = event.encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                # No final zero-length chunk: the client sees the body cut short.
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A base URL on a loopback port nobody listens on."""
    return f"http://127.0.0.1:{free_port()}/v1"


def _embeddings_app(model_folder: str, api_key: str):
    from fastapi import FastAPI, Header, HTTPException
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_folder, device="cpu", local_files_only=True)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/embeddings")
    def embeddings(body: dict, authorization: str = Header(default="")) -> dict:
        if api_key and authorization != f"Bearer {api_key}":
            raise HTTPException(status_code=401, detail="Invalid API key")
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = model.encode(texts, convert_to_numpy=True)
        tokens = sum(len(model.tokenizer(text)["input_ids"]) for text in texts)
        return {
            "object": "list",
            "model": body.get("model", ""),
            "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    return app


if __name__ == "__main__":
    import uvicorn

    folder, port_text = sys.argv[1], sys.argv[2]
    uvicorn.run(
        _embeddings_app(folder, os.environ.get("EMBEDDINGS_API_KEY", "")), host="127.0.0.1", port=int(port_text)
    )
