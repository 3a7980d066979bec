"""A small Hugging Face Hub on 127.0.0.1 for tests: real HTTP, the hub's URL layout, no mocks.

It serves model folders (built by ``tests/tiny_models.py``) the way huggingface_hub 2.x asks for them:

- ``GET /api/models`` (the reachability probe): a JSON list;
- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``: JSON with ``id``, ``sha`` and
  ``siblings`` (``rfilename``, ``size``), as ``HfApi.model_info(files_metadata=True)`` reads it;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: ``ETag``, ``X-Repo-Commit``, ``Content-Length``,
  ``Accept-Ranges``, with ``Range`` honoured, as ``hf_hub_download`` reads them;
- unknown repos answer 404 with ``X-Error-Code: RepoNotFound``.

Every request is counted (``hits``), a file can be cut mid-body (``cut_files``) and every body can be
slowed down (``chunk_delay_s``) so tests can cancel a download while it runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TINY_REPO = "tiny-org/tiny-sentiment"  # the tiny sentiment classifier, as the tests serve it
COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+?)(?:/revision/(?P<rev>[^/]+))?$")
_CHUNK = 4096


class LocalHub:
    """The server and what it saw; use as a context manager or call ``start``/``stop``."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.hits: Counter[str] = Counter()
        # File names whose GET stops after half the body, and whose resumed GET then fails (500).
        self.cut_files: set[str] = set()
        self.chunk_delay_s = 0.0
        self.is_a_hub = True  # False: answer 404 to everything, like a proxy blocking the host
        self.listing_delay_s = 0.0  # how long ``GET /api/models`` (the probe) takes to answer
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, method: str, path_part: str) -> int:
        """Requests of ``method`` whose path contains ``path_part``."""
        with self._lock:
            return sum(n for key, n in self.hits.items() if key.startswith(f"{method} ") and path_part in key)

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.hits[f"{method} {path}"] += 1

    def files(self, repo: str) -> dict[str, Path]:
        folder = self.repos[repo]
        return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def closed_port_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _etag(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324 - an ETag, not security


def _handler_for(hub: LocalHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet test output
            return

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            self._serve(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._serve(body=True)

        def _not_found(self, code: str) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _serve(self, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            hub.record(self.command, path)
            if not hub.is_a_hub:
                self._not_found("NotAHub")  # what a firewall or proxy answers for a blocked host
            elif path == "/api/models":
                time.sleep(hub.listing_delay_s)
                self._json([{"id": repo, "modelId": repo} for repo in hub.repos][:1])
            elif match := _INFO.match(path):
                self._model_info(match["repo"])
            elif match := _RESOLVE.match(path):
                self._file(match["repo"], match["file"], body)
            else:
                self._not_found("EntryNotFound")

        def _model_info(self, repo: str) -> None:
            if repo not in hub.repos:
                self._not_found("RepoNotFound")
                return
            siblings = [{"rfilename": name, "size": p.stat().st_size} for name, p in hub.files(repo).items()]
            self._json({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings})

        def _json(self, value: object) -> None:
            data = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _file(self, repo: str, name: str, body: bool) -> None:
            if repo not in hub.repos:
                self._not_found("RepoNotFound")
                return
            file = hub.files(repo).get(name)
            if file is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = file.read_bytes()
            start = 0
            if (wanted := self.headers.get("Range", "")).startswith("bytes="):
                start = int(wanted[6:].split("-", 1)[0] or 0)
            if body and start and name in hub.cut_files:
                self.send_response(500)  # the resumed request fails too: the transfer is lost
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("ETag", f'"{_etag(file)}"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(payload)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return
            if name in hub.cut_files:
                # Headers promise the whole file; half of it arrives, then the connection drops.
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            for offset in range(0, len(payload), _CHUNK):
                self.wfile.write(payload[offset : offset + _CHUNK])
                if hub.chunk_delay_s:
                    time.sleep(hub.chunk_delay_s)

    return Handler


def cache_repo(local_hub: LocalHub, repo: str) -> Path:
    """Every file of ``repo`` fetched into huggingface_hub's cache, as a server with a warm cache
    has it (file by file: the local hub does not serve the tree listing snapshot_download asks for)."""
    from huggingface_hub import hf_hub_download

    fetched = [Path(hf_hub_download(repo, path.name)) for path in local_hub.repos[repo].iterdir() if path.is_file()]
    return fetched[0].parent
