"""A memory limit for processes a test starts: a cgroup of its own, v1 or v2, or a systemd scope.

Community Cloud gives the app and its worker 2.7 GB together; a test that runs them inside a cgroup
with that limit finds out whether the kernel would kill one of them there. The test sets the group
up itself: as root it makes a child of its own memory cgroup (v1: ``memory.limit_in_bytes``, v2:
``memory.max``) and turns swap off for it (``memory.memsw.limit_in_bytes`` / ``memory.swap.max``)
so the limit is the memory a process may really use; without root it asks systemd for a transient
scope (``systemd-run --user --scope -p MemoryMax= -p MemorySwapMax=0``). Where neither works,
``detect`` says exactly why, so the test can skip with that reason.

A process joins the group before it execs the program (``command_prefix``), so everything it
starts (the worker, for the app) is in the group too: children inherit their parent's cgroup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

V1 = "cgroup-v1"
V2 = "cgroup-v2"
SYSTEMD = "systemd-run"
# Community Cloud's memory for the app and everything it starts.
COMMUNITY_CLOUD_BYTES = int(2.7 * 2**30)


@dataclass(frozen=True)
class Capability:
    """How a memory limit can be set here: ``kind`` is V1, V2 or SYSTEMD, or empty with ``reason``."""

    kind: str
    parent: Path | None = None
    reason: str = ""
    tried: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return bool(self.kind)


def parse_memory_cgroups(proc_cgroup: str, mountinfo: str) -> dict[str, Path]:
    """The folders of this process's memory cgroup, per version, from /proc/self/cgroup and mountinfo.

    v1: the ``memory`` hierarchy's mount point plus this process's path in it. v2: the cgroup2 mount
    point plus the ``0::`` path, kept only when that mount offers the memory controller (checked
    later, from ``cgroup.controllers``). Paths are relative to the mount's root, which in a container
    is the container's own cgroup (mountinfo's fourth field), so that prefix is removed.
    """
    own: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            own[V2] = path
        elif "memory" in controllers.split(","):
            own[V1] = path
    found: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mount_point, fs_type, options = fields[3], fields[4], tail[0], tail[2]
        if fs_type == "cgroup" and V1 in own and "memory" in options.split(","):
            version, path = V1, own[V1]
        elif fs_type == "cgroup2" and V2 in own:
            version, path = V2, own[V2]
        else:
            continue
        if root != "/" and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        found.setdefault(version, Path(mount_point) / path.lstrip("/"))
    return found


def _try_cgroup(version: str, parent: Path) -> str:
    """Why a child group with a memory limit cannot be made under ``parent`` (empty when it can)."""
    if version == V2:
        controllers = _read(parent / "cgroup.controllers").split()
        if "memory" not in controllers:
            return f"{parent} offers no memory controller (cgroup.controllers: {' '.join(controllers) or 'none'})"
    probe = parent / f"lsm-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError as error:
        return f"cannot make a child of {parent}: {error.strerror or error}"
    try:
        limit_file = probe / ("memory.max" if version == V2 else "memory.limit_in_bytes")
        if not limit_file.exists():
            # v2 enables a controller for children through the parent's subtree_control.
            return f"{parent} does not enable the memory controller for its children (cgroup.subtree_control)"
        try:
            limit_file.write_text(str(256 * 2**20))
        except OSError as error:
            return f"cannot set {limit_file.name} in {parent}: {error.strerror or error}"
        return ""
    finally:
        probe.rmdir()


def _try_systemd() -> str:
    executable = shutil.which("systemd-run")
    if executable is None:
        return "systemd-run is not installed"
    probe = [executable, "--user", "--scope", "--quiet", "-p", "MemoryMax=256M", "-p", "MemorySwapMax=0", "true"]
    if os.geteuid() == 0:
        probe.remove("--user")
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"systemd-run failed: {error}"
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split())
        return f"systemd-run cannot start a scope: {said[:200]}"
    return ""


def detect(proc_cgroup: str | None = None, mountinfo: str | None = None, systemd: bool = True) -> Capability:
    """The first way that works here to run processes under a memory limit, or why none does."""
    proc_cgroup = _read(Path("/proc/self/cgroup")) if proc_cgroup is None else proc_cgroup
    mountinfo = _read(Path("/proc/self/mountinfo")) if mountinfo is None else mountinfo
    groups = parse_memory_cgroups(proc_cgroup, mountinfo)
    tried: list[str] = []
    # v2 first: where both exist, v2 is what systemd and current kernels use for memory.
    for version in (V2, V1):
        parent = groups.get(version)
        if parent is None:
            tried.append(f"{version}: no memory hierarchy of this process is mounted")
            continue
        why = _try_cgroup(version, parent)
        if not why:
            return Capability(version, parent, tried=tuple(tried))
        tried.append(f"{version}: {why}")
    if systemd:
        why = _try_systemd()
        if not why:
            return Capability(SYSTEMD, tried=tuple(tried))
        tried.append(f"{SYSTEMD}: {why}")
    return Capability("", reason="no way to set a memory limit here: " + "; ".join(tried), tried=tuple(tried))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _number(path: Path) -> int | None:
    text = _read(path).strip()
    return int(text) if text.isdigit() else None


def _keyed(path: Path, key: str) -> int | None:
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return None


@dataclass
class MemoryGroup:
    """A cgroup with a memory limit and no swap; processes join it through ``command_prefix``."""

    kind: str
    limit_bytes: int
    folder: Path | None = None
    swap_limited: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, capability: Capability, limit_bytes: int) -> MemoryGroup:
        """A new group under the capability's parent (a systemd scope is made when a process starts)."""
        if not capability.available:
            raise RuntimeError(capability.reason)
        group = cls(capability.kind, limit_bytes)
        if capability.kind == SYSTEMD:
            group.swap_limited = True
            return group
        assert capability.parent is not None
        folder = capability.parent / f"lsm-memory-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        group.folder = folder
        if capability.kind == V2:
            (folder / "memory.max").write_text(str(limit_bytes))
            group.swap_limited = group._write(folder / "memory.swap.max", "0")
        else:
            (folder / "memory.limit_in_bytes").write_text(str(limit_bytes))
            # memsw is memory plus swap; equal to the memory limit, no swap is left. The file exists
            # only with swap accounting on (swapaccount=1); without swap on the host it is moot.
            group.swap_limited = group._write(folder / "memory.memsw.limit_in_bytes", str(limit_bytes))
            group._write(folder / "memory.swappiness", "0")
        if not group.swap_limited:
            group.notes.append("swap not limited (no swap accounting); the host has no swap" if _no_swap() else
                               "swap not limited (no swap accounting): the limit covers memory only")  # fmt: skip
        return group

    def _write(self, path: Path, value: str) -> bool:
        try:
            path.write_text(value)
            return True
        except OSError:
            return False

    def command_prefix(self) -> list[str]:
        """Put before a command: the process joins the group, then execs the command."""
        if self.kind == SYSTEMD:
            prefix = [
                "systemd-run",
                "--scope",
                "--quiet",
                "-p",
                f"MemoryMax={self.limit_bytes}",
                "-p",
                "MemorySwapMax=0",
            ]
            if os.geteuid() != 0:
                prefix.insert(1, "--user")
            return [*prefix, "--"]
        assert self.folder is not None
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.folder / "cgroup.procs")]

    def bind(self, pid: int) -> None:
        """For a systemd scope: find the group's folder from a process started in it."""
        if self.kind != SYSTEMD or self.folder is not None:
            return
        groups = parse_memory_cgroups(_read(Path(f"/proc/{pid}/cgroup")), _read(Path("/proc/self/mountinfo")))
        self.folder = groups.get(V2) or groups.get(V1)

    @property
    def _v2(self) -> bool:
        return self.folder is not None and (self.folder / "memory.max").exists()

    def usage_bytes(self) -> int:
        """Memory charged to the group now (resident memory and page cache)."""
        if self.folder is None:
            return 0
        return _number(self.folder / ("memory.current" if self._v2 else "memory.usage_in_bytes")) or 0

    def anonymous_bytes(self) -> int:
        """The group's anonymous memory (heaps, tensors made at run time): what reclaim cannot drop.

        The rest of the usage is page cache, model weights mapped from their safetensors files
        included: clean pages the kernel drops at the limit and reads again when touched.
        """
        if self.folder is None:
            return 0
        stat = self.folder / "memory.stat"
        if self._v2:
            return _keyed(stat, "anon") or 0
        value = _keyed(stat, "total_rss")
        return value if value is not None else (_keyed(stat, "rss") or 0)

    def kernel_peak_bytes(self) -> int | None:
        """The kernel's own high-water mark (v2's memory.peak exists from Linux 5.19)."""
        if self.folder is None:
            return None
        return _number(self.folder / ("memory.peak" if self._v2 else "memory.max_usage_in_bytes"))

    def oom_kills(self) -> int:
        """Processes the kernel killed in this group for want of memory."""
        if self.folder is None:
            return 0
        if self._v2:
            return _keyed(self.folder / "memory.events", "oom_kill") or 0
        # oom_control lists oom_kill from Linux 4.13; before that, under_oom is the best sign.
        kills = _keyed(self.folder / "memory.oom_control", "oom_kill")
        return kills if kills is not None else (_keyed(self.folder / "memory.oom_control", "under_oom") or 0)

    def limit_hits(self) -> int:
        """How often usage reached the limit and the kernel had to reclaim (not a kill)."""
        if self.folder is None:
            return 0
        if self._v2:
            return _keyed(self.folder / "memory.events", "max") or 0
        return _number(self.folder / "memory.failcnt") or 0

    def pids(self) -> list[int]:
        if self.folder is None:
            return []
        return [int(pid) for pid in _read(self.folder / "cgroup.procs").split()]

    def remove(self, timeout: float = 20) -> None:
        """Remove the group once its processes have gone (a systemd scope goes by itself)."""
        if self.folder is None or self.kind == SYSTEMD:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.folder.rmdir()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def evict_from_page_cache(*folders: Path, pattern: str = "*") -> int:
    """Drop the page cache of the files under ``folders`` matching ``pattern``; returns their bytes.

    A cgroup is charged for a file page by the first process that reads it. Model files just built
    by the test, or libraries read by other processes, sit in the cache charged elsewhere, and the
    app inside the group would then map them for free. Dropped first, they are read again from
    inside the group and charged to it, as on a host where the app is alone. Pages another running
    process still maps stay (the kernel keeps them), so this is a lower bound for libraries.
    """
    dropped = 0
    for folder in folders:
        for path in folder.rglob(pattern):
            if not path.is_file() or path.is_symlink():
                continue
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                # Dirty pages are not dropped: write them out first.
                os.fsync(descriptor)
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
                dropped += path.stat().st_size
            except OSError:
                pass
            finally:
                os.close(descriptor)
    return dropped


def _no_swap() -> bool:
    for line in _read(Path("/proc/meminfo")).splitlines():
        if line.startswith("SwapTotal:"):
            return line.split()[1:2] == ["0"]
    return False


@dataclass
class PhasePeak:
    """The highest figures seen while one phase of a test ran, in bytes."""

    group: int = 0
    group_anon: int = 0
    app_rss: int = 0
    app_anon: int = 0
    workers_rss: int = 0
    workers_anon: int = 0


def _process_memory(pid: int) -> tuple[int, int]:
    """A process's resident memory and the anonymous part of it, in bytes (0, 0 once it is gone)."""
    status = Path(f"/proc/{pid}/status")
    rss, anon = _keyed_kb(status, "VmRSS:"), _keyed_kb(status, "RssAnon:")
    return rss, anon


def _keyed_kb(path: Path, key: str) -> int:
    for line in _read(path).splitlines():
        if line.startswith(key):
            parts = line.split()
            return int(parts[1]) * 1024 if len(parts) > 1 and parts[1].isdigit() else 0
    return 0


class MemoryWatch:
    """Samples a group's usage and its processes' resident memory on a thread, peak per phase.

    ``app_pid`` is the main process; every other process in the group counts as a worker.
    """

    def __init__(self, group: MemoryGroup, app_pid: int, interval: float = 0.1) -> None:
        self.group = group
        self.app_pid = app_pid
        self.interval = interval
        self.phase = "idle: server started, first page served"
        self.peaks: dict[str, PhasePeak] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def set_phase(self, name: str) -> None:
        with self._lock:
            self.phase = name
        self.sample()

    def sample(self) -> PhasePeak:
        now = PhasePeak(self.group.usage_bytes(), self.group.anonymous_bytes())
        for pid in self.group.pids():
            rss, anon = _process_memory(pid)
            if pid == self.app_pid:
                now.app_rss, now.app_anon = rss, anon
            else:
                now.workers_rss += rss
                now.workers_anon += anon
        with self._lock:
            peak = self.peaks.setdefault(self.phase, PhasePeak())
            for name in vars(now):
                setattr(peak, name, max(getattr(peak, name), getattr(now, name)))
        return now

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, object]:
        """JSON-able figures in MB: per phase, and the group's peak over the whole run."""
        mb = 2**20
        sampled = max((peak.group for peak in self.peaks.values()), default=0)
        anon = max((peak.group_anon for peak in self.peaks.values()), default=0)
        kernel = self.group.kernel_peak_bytes()
        return {
            "limit_mb": round(self.group.limit_bytes / mb),
            "kind": self.group.kind,
            "swap_limited": self.group.swap_limited,
            "notes": self.group.notes,
            "group_peak_mb": round(max(sampled, kernel or 0) / mb),
            "kernel_peak_mb": None if kernel is None else round(kernel / mb),
            "group_anonymous_peak_mb": round(anon / mb),
            # Usage reached the limit: the kernel reclaimed page cache (mapped weights included).
            "reached_limit": max(sampled, kernel or 0) >= self.group.limit_bytes - 2**20,
            "oom_kills": self.group.oom_kills(),
            "limit_hits": self.group.limit_hits(),
            "phases": {
                name: {f"{figure}_mb": round(value / mb) for figure, value in vars(peak).items()}
                for name, peak in self.peaks.items()
            },
        }
