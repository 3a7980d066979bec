"""Real servers for the distributed-job tests: a redis-server and a PostgreSQL cluster on loopback.

Each runs from the Debian packages (``scripts/install-services.sh`` installs them when missing)
on a free port, with its data in a temporary folder, and is stopped and removed afterwards.
When a server cannot run here, ``ServiceUnavailable`` says why, and the fixtures skip with that.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

_START_SECONDS = 30.0
# PostgreSQL refuses to run as root; as root the tests run it as this existing unprivileged user.
_POSTGRES_USER = "nobody"


class ServiceUnavailable(Exception):
    """A server cannot run on this machine; the message says why (the skip reason)."""


def free_port() -> int:
    """A TCP port on loopback that nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen | None, what: str, log: Path) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceUnavailable(f"{what} exited at start: {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not listen on port {port} within {_START_SECONDS:.0f} s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on a free loopback port, without persistence; yields its ``redis://`` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailable("redis-server is not installed (scripts/install-services.sh installs it as root)")
    folder = Path(tempfile.mkdtemp(prefix="lsm-redis-"))
    port, log = free_port(), folder / "redis.log"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(folder), "--logfile", str(log)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, "redis-server", log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them off the PATH), or None."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return installed[-1].parent if installed else None


def _as_postgres_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise ServiceUnavailable("PostgreSQL refuses to run as root and runuser is missing to switch user")
    return ["runuser", "-u", _POSTGRES_USER, "--", *command]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise ServiceUnavailable(f"{what} failed: {(done.stderr or done.stdout).strip()[-300:]}")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (initdb, then pg_ctl start) on a free loopback port, trusting
    local connections; yields the URL of its ``postgres`` database as user ``postgres``.
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise ServiceUnavailable("PostgreSQL is not installed (scripts/install-services.sh installs it as root)")
    folder = Path(tempfile.mkdtemp(prefix="lsm-postgres-"))
    data, log, port = folder / "data", folder / "server.log", free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, user=_POSTGRES_USER)
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]
    _run(_as_postgres_user([*initdb, "--encoding", "UTF8", "--locale", "C"]), "initdb")
    # Loopback only, no Unix socket, no durability (a test cluster), little memory.
    options = f"-p {port} -k '' -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log)]
    try:
        _run(_as_postgres_user([*pg_ctl, "-o", options, "-w", "-t", "30", "start"]), "pg_ctl start")
        _wait_for_port(port, None, "PostgreSQL", log)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres_user([*pg_ctl, "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


def fresh_schema(server_url: str) -> str:
    """A new, empty schema on the server; returns a URL whose connections use it (so each test
    starts with no tables and leaves none for the next).
    """
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    return f"{server_url}?options=-csearch_path%3D{name}"
