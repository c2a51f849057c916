"""A compile's CPU share, set in the container's cgroup by the daemon, with no Docker call."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import run_code, worker_containers

from service.sandbox import cgroups
from service.testing.harness import INSTANCE_LABEL

# About a second of g++'s constant evaluation: long enough to read the share mid-compile.
SLOW_TO_BUILD = """constexpr long spin() {
    long sum = 0;
    for (int j = 0; j < 1200; j++)
        for (int i = 0; i < 500; i++) sum += i ^ j;
    return sum;
}
static_assert(spin() != 1, "");
#include <cstdio>
int main() { std::puts("built"); }
"""


def quota_file(container: str) -> Path:
    inspect = ["docker", "inspect", "-f", "{{.State.Pid}}", container]
    pid = int(subprocess.run(inspect, capture_output=True, text=True, check=True).stdout)
    found = cgroups.find(container, pid)
    assert found is not None, f"no cgroup of {container} to read"
    return found.cpu / ("cpu.max" if found.unified else "cpu.cfs_quota_us")


def share(path: Path, period_us: int) -> float:
    quota = path.read_text().split()[0]
    return int(quota) / period_us


def update_events(instance: str, since: str, until: str) -> list[str]:
    out = subprocess.run(
        [
            "docker", "events", "--since", since, "--until", until,
            "--filter", "event=update", "--filter", f"label={INSTANCE_LABEL}={instance}",
            "--format", "{{.ID}}",
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.split()


def test_a_compile_runs_at_the_compile_share_and_docker_is_asked_nothing(daemon):
    settings = daemon.settings
    if not settings.live_updates:
        pytest.skip("this runtime cannot change a running container's limits")
    period = settings.cpu_period_ms * 1000
    files = {c: quota_file(c) for c in worker_containers(daemon.instance_id)}
    assert files and all(share(f, period) == settings.cpus for f in files.values())
    since = str(time.time())
    reply: list[dict] = []
    code = f"{SLOW_TO_BUILD}// {uuid.uuid4()}\n"
    sender = threading.Thread(target=lambda: reply.append(run_code(daemon.nats_url, "cpp", code)))
    sender.start()
    seen = set()
    while sender.is_alive():
        seen |= {share(f, period) for f in files.values() if f.exists()}
        time.sleep(0.01)
    sender.join()
    until = str(time.time() + 0.5)
    assert reply[0]["status"] == "ok" and reply[0]["output"] == "built\n", reply
    assert settings.compile_cpus in seen, seen
    # Every container is back at the run's share, and Docker changed nothing.
    assert all(share(f, period) == settings.cpus for f in files.values() if f.exists())
    assert update_events(daemon.instance_id, since, until) == []
