"""A compile's CPU share, set in the container's cgroup by the daemon, with no Docker call."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from service.sandbox import cgroups
from service.testing.client import run_code
from service.testing.harness import INSTANCE_LABEL, instance_containers

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
    files = {c: quota_file(c) for c in instance_containers(daemon.instance_id)}
    # Idle: at the run's share, or at the compile share its last cleanup left.
    idle = {settings.cpus, settings.compile_cpus}
    assert files and all(share(f, period) in idle for f in files.values())
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
    # Idle again, and Docker changed nothing.
    assert all(share(f, period) in idle for f in files.values() if f.exists())
    assert update_events(daemon.instance_id, since, until) == []


# Busy for 0.8 s of wall time; how much of it was CPU time.
SPIN = """import time
start = time.monotonic()
while time.monotonic() - start < 0.8:
    pass
print(round(time.process_time() / (time.monotonic() - start), 2))
"""


def test_a_jobs_code_runs_at_the_runs_share_after_a_cleanup_at_the_compile_share(daemon):
    settings = daemon.settings
    if not settings.live_updates or settings.compile_cpus < 2 * settings.cpus:
        pytest.skip("no idle share to tell apart from the run's here")
    # Each container of the pool in turn, each left at the compile share by the
    # cleanup before: the program may use the run's share, never more (with
    # the compile share it would get all of a core on this idle machine).
    for _ in range(4):
        reply = run_code(daemon.nats_url, "python", SPIN)
        assert reply["status"] == "ok", reply
        assert float(reply["output"]) < (settings.cpus + settings.compile_cpus) / 2, reply


@pytest.mark.parametrize("subject", ["compiler.execute.request", "problems.execute.request"])
def test_a_requests_compile_time_limit_ends_its_compile(daemon, subject):
    slow = SLOW_TO_BUILD.replace("1200", "200000").replace("500", "200000")  # minutes of g++
    built = {"stdin": "", "expected_output": "YnVpbHQ="}  # base64 of "built"
    fields = {"tests": [built]} if "problems" in subject else {}
    reply = run_code(
        daemon.nats_url, "cpp", slow, compile_timeout_ms=300, subject=subject, **fields
    )
    assert reply["status"] == "compile_error", reply
    said = reply.get("compile_output") or reply["error"]
    assert "compilation exceeded its time limit" in said, reply
    assert reply["compile_time_ms"] < daemon.settings.compile_timeout_ms, reply
