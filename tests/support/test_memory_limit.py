"""The memory-limit helper: where it finds this process's memory cgroup, why it cannot use one, and
that a group it makes really limits a process (on hosts where it can make one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import memory_limit
from tests.support.memory_limit import V1, V2

# /proc/self/cgroup and mountinfo as this project's build host shows them: cgroup v1 with a
# memory hierarchy, and a cgroup2 mount that offers no memory controller (hybrid layout).
HYBRID_CGROUP = "4:memory:/process_api/abc\n3:cpuset:/\n0::/\n"
HYBRID_MOUNTS = (
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)
# A systemd host with only cgroup v2, the process in a user session's scope.
UNIFIED_CGROUP = "0::/user.slice/user-1000.slice/session-2.scope\n"
UNIFIED_MOUNTS = "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_finds_the_v1_memory_hierarchy_and_the_v2_mount_of_a_hybrid_host():
    found = memory_limit.parse_memory_cgroups(HYBRID_CGROUP, HYBRID_MOUNTS)

    assert found == {V1: Path("/sys/fs/cgroup/memory/process_api/abc"), V2: Path("/sys/fs/cgroup/unified")}


def test_finds_the_process_s_own_group_on_a_v2_only_host():
    found = memory_limit.parse_memory_cgroups(UNIFIED_CGROUP, UNIFIED_MOUNTS)

    assert found == {V2: Path("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope")}


def test_a_container_s_mount_root_is_removed_from_the_path():
    # Inside a container the mount's root is the container's group: /proc/self/cgroup names the
    # full path, the mount shows it as "/".
    proc = "0::/docker/f00/app\n"
    mounts = "40 30 0:27 /docker/f00 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n"

    assert memory_limit.parse_memory_cgroups(proc, mounts) == {V2: Path("/sys/fs/cgroup/app")}


def test_without_any_cgroup_mount_the_reason_names_each_way_tried():
    capability = memory_limit.detect(proc_cgroup=HYBRID_CGROUP, mountinfo="", systemd=False)

    assert not capability.available
    assert "cgroup-v2: no memory hierarchy" in capability.reason
    assert "cgroup-v1: no memory hierarchy" in capability.reason


def test_a_v2_group_without_the_memory_controller_is_refused_with_the_reason(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io pids\n")
    mounts = f"41 31 0:38 / {tmp_path} rw,relatime - cgroup2 cgroup2 rw\n"

    capability = memory_limit.detect(proc_cgroup="0::/\n", mountinfo=mounts, systemd=False)

    assert not capability.available
    assert "offers no memory controller (cgroup.controllers: cpu io pids)" in capability.reason


def test_a_v2_group_that_does_not_delegate_memory_to_children_is_refused(tmp_path):
    # The controller is offered, but the child made in a plain folder gets no memory.max file, as
    # in a real cgroup whose subtree_control lacks "+memory".
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    mounts = f"41 31 0:38 / {tmp_path} rw,relatime - cgroup2 cgroup2 rw\n"

    capability = memory_limit.detect(proc_cgroup="0::/\n", mountinfo=mounts, systemd=False)

    assert "does not enable the memory controller for its children" in capability.reason
    assert [child.name for child in tmp_path.iterdir()] == ["cgroup.controllers"]


@pytest.fixture
def small_group():
    capability = memory_limit.detect()
    if not capability.available or capability.kind == memory_limit.SYSTEMD:
        pytest.skip(capability.reason or "only a systemd scope is available; it is exercised by the app test")
    group = memory_limit.MemoryGroup.create(capability, 200 * 2**20)
    yield group
    group.remove()


def _allocate(group: memory_limit.MemoryGroup, megabytes: int) -> subprocess.CompletedProcess:
    touch = f"b = bytearray({megabytes} * 2**20); b[::4096] = b'x' * len(b[::4096]); print(len(b))"
    return subprocess.run([*group.command_prefix(), sys.executable, "-c", touch], capture_output=True, timeout=60)


def test_a_process_within_the_limit_runs_and_its_peak_is_recorded(small_group):
    done = _allocate(small_group, 100)

    assert done.returncode == 0, done.stderr
    assert small_group.oom_kills() == 0
    assert small_group.kernel_peak_bytes() >= 100 * 2**20


def test_a_process_past_the_limit_is_killed_and_the_kill_is_counted(small_group):
    done = _allocate(small_group, 400)

    assert done.returncode == -9
    assert small_group.oom_kills() >= 1
