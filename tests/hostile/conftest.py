"""The hostile suite's own NATS server and daemon: one warm container, one job at a time.

With one worker and a concurrency of one, every job lands on the same container
unless the daemon replaced it, so a probe job right after a hostile one sees
exactly what that job left behind. The daemon has its own nats-server so that
no other test's daemon (same queue group) can take these requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from docker_api import DockerClient
from service.testing.harness import Daemon, instance_containers, next_snapshot
from service.testing.nats_servers import NatsServer

from .hostile_support import RUNSC, HostileBench

WARM_UP = {
    "python": "print('warm')",
    "javascript": "console.log('warm')",
    "go": 'package main\nimport "fmt"\nfunc main() { fmt.Println("warm") }\n',
    "cpp": '#include <cstdio>\nint main() { std::puts("warm"); }\n',
}


@dataclass
class Baseline:
    daemon_rss_kb: int
    disk_used: int
    compile_cache_bytes: int  # the programs the daemon keeps, by design, up to its budget


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def disk_used() -> int:
    """Bytes Docker holds in images, containers and volumes, by its own count (/system/df).

    Not the filesystem's: whatever else writes to the disk meanwhile does not count.
    """

    async def ask() -> int:
        async with DockerClient.from_env() as docker:
            usage = await docker.system.disk_usage()
        return usage.images + usage.containers + usage.volumes

    return trio.run(ask)


@pytest.fixture(scope="package")
def hostile_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    directory = tmp_path_factory.mktemp("hostile")
    nats = NatsServer(directory)
    daemon = Daemon(
        nats.url,
        directory / "daemon.log",
        {
            "CODE_ENGINE_WORKERS": "1",
            "CODE_ENGINE_CONCURRENCY": "1",
            # Compile bombs meet this limit; hello world compiles in well under a
            # second, and Go's takes about 3 s under gVisor on a quiet host.
            "CODE_ENGINE_COMPILE_TIMEOUT_MS": "15000" if RUNSC else "5000",
            "CODE_ENGINE_LOG_LEVEL": "INFO",
        },
    )
    try:
        yield daemon
    finally:
        code = daemon.stop()
        nats.stop()
    assert code == 0, daemon.log_text()[-3000:]
    assert instance_containers(daemon.instance_id) == []


@pytest.fixture(scope="package")
def sandbox(hostile_daemon: Daemon) -> HostileBench:
    box = HostileBench(hostile_daemon)
    for language, code in WARM_UP.items():
        reply = box.run(language, code)
        assert reply["output"] == "warm\n", reply
    return box


@pytest.fixture(scope="package")
def baseline(sandbox: HostileBench) -> Baseline:
    """Measured once, after the warm-up and before the first hostile program."""
    return Baseline(
        daemon_rss_kb=rss_kb(sandbox.daemon.process.pid),
        disk_used=disk_used(),
        compile_cache_bytes=compile_cache_bytes(sandbox.daemon),
    )


def compile_cache_bytes(daemon: Daemon) -> int:
    """What the daemon's compile cache holds, from its next stats snapshot."""
    return int(next_snapshot(daemon)["compile_cache"]["bytes"])
