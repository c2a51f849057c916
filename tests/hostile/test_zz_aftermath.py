"""After every hostile program: the daemon, the pool and the host are as before.

Named to run last in the package (pytest collects a directory's modules in name
order); run alone it still holds, against a baseline taken just before it.
"""

from __future__ import annotations

import pytest

from service.testing.harness import next_snapshot

from .conftest import Baseline, compile_cache_bytes, disk_used, rss_kb
from .hostile_support import RUNSC, HostileBench, inspect

pytestmark = pytest.mark.hostile

DAEMON_RSS_GROWTH_KB = 30 << 10
DISK_GROWTH = 50 << 20


def test_daemon_memory_is_flat(sandbox: HostileBench, baseline: Baseline) -> None:
    # The compile cache keeps programs by design (within CODE_ENGINE_COMPILE_CACHE_MB):
    # what it took on since the baseline is not growth.
    kept_kb = (compile_cache_bytes(sandbox.daemon) - baseline.compile_cache_bytes) >> 10
    grown = rss_kb(sandbox.daemon.process.pid) - baseline.daemon_rss_kb - kept_kb
    assert grown < DAEMON_RSS_GROWTH_KB, f"the daemon grew by {grown} kB beside {kept_kb} kept"


def test_host_disk_did_not_grow(sandbox: HostileBench, baseline: Baseline) -> None:
    grown = disk_used() - baseline.disk_used
    assert grown < DISK_GROWTH, f"Docker's images, containers and volumes grew by {grown >> 20} MiB"
    # A read-only root: the container's writable layer holds nothing at all.
    assert inspect(sandbox.container())["SizeRw"] == 0


def test_pool_is_back_to_full_size(sandbox: HostileBench, baseline: Baseline) -> None:
    sandbox.container()
    snapshot = next_snapshot(sandbox.daemon)
    assert snapshot["pool"]["size"] == 1 and snapshot["pool"]["starting"] == 0, snapshot
    assert [c["state"] for c in snapshot["containers"]] == ["idle"], snapshot["containers"]
    assert snapshot["pool"]["replaced"] >= sandbox.replacements
    assert snapshot["docker"]["ok"] is True


WARM_PROCESSES = 1


def test_agent_holds_no_more_than_it_started_with(
    sandbox: HostileBench, baseline: Baseline
) -> None:
    """Many jobs on one container leave the agent's descriptors and memory where they were."""
    container = sandbox.container()
    for i in range(20):
        assert sandbox.run("python", f"print({i})")["output"] == f"{i}\n"
    assert sandbox.container() == container
    fds, rss = sandbox.agent_holdings(container)
    # Each warm process waiting for the next run (one: a Python's, after Python
    # jobs) is four more: its stdin, stdout, stderr and the pipe its program comes by.
    assert len(fds) <= 8 + 4 * WARM_PROCESSES, fds
    assert rss < 40 << 10


def test_container_is_created_hardened(sandbox: HostileBench, baseline: Baseline) -> None:
    """What the suite relied on, as Docker reports it for the live container."""
    host = inspect(sandbox.container())["HostConfig"]
    assert host["NetworkMode"] == "none" and host["Privileged"] is False
    assert host["ReadonlyRootfs"] is True
    assert not host.get("Binds") and not host.get("Mounts") and not host.get("VolumesFrom")
    assert not host.get("Devices")
    assert sorted(host["Tmpfs"]) == ["/dev/shm", "/tmp", "/work"]
    assert all("size=" in opts and "nr_inodes=" in opts for opts in host["Tmpfs"].values())
    assert all("nosuid" in opts and "nodev" in opts for opts in host["Tmpfs"].values())
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]
    assert host["SecurityOpt"] == ["no-new-privileges"]  # and no seccomp=unconfined
    assert host["Memory"] == host["MemorySwap"] > 0
    assert host["PidsLimit"] > 0 and host["CpuQuota"] > 0
    # Under gVisor fork bombs meet the guest's nproc; the pids cgroup is a backstop.
    expected = {"nofile", "fsize", "core"} | ({"nproc"} if RUNSC else set())
    assert {u["Name"] for u in host["Ulimits"]} == expected
    assert host["LogConfig"]["Type"] == "none"
    assert host["IpcMode"] == "private" and host["PidMode"] == ""
