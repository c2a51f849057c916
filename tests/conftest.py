"""Shared fixtures. Integration fixtures start a real nats-server and a real daemon.

Both come from :mod:`service.testing.harness`; the daemons get the caller's
environment, so ``CODE_ENGINE_IMAGE`` chooses the worker image they run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine_client import EngineClient, build_request
from service.testing.harness import ROOT, Daemon, instance_containers, stop_leftovers
from service.testing.nats_servers import NatsServer

# Python source: engine(pid) says whether a process a job sees is the agent's
# Python fork server (agent/forkserver.py), root's and named so. No job process
# can be root's; what else a job sees beside itself and the agent is a job's.
IS_ENGINE_PROCESS = """
def engine(pid):
    try:
        uids = open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[:4]
        command = open(f"/proc/{pid}/cmdline").read()
    except OSError:
        return False
    return uids == ["0"] * 4 and "/launchers/python_forkserver.py" in command
"""


def send(
    nats_url: str,
    request: dict | bytes,
    *,
    subject: str = "compiler.execute.request",
    timeout: float = 60.0,
) -> dict:
    async def go() -> dict:
        async with await EngineClient.connect(nats_url) as client:
            return await client.send(request, subject=subject, timeout=timeout)

    return asyncio.run(go())


def send_many(
    nats_url: str,
    requests: list[dict],
    *,
    subject: str = "compiler.execute.request",
    timeout: float = 120.0,
) -> list[dict]:
    async def go() -> list[dict]:
        async with await EngineClient.connect(nats_url) as client:
            return list(
                await asyncio.gather(
                    *(client.send(r, subject=subject, timeout=timeout) for r in requests)
                )
            )

    return asyncio.run(go())


def run_code(nats_url: str, language: str, code: str, **fields) -> dict:
    subject = fields.pop("subject", "compiler.execute.request")
    return send(nats_url, build_request(language, code, **fields), subject=subject)


def worker_containers(instance_id: str) -> list[str]:
    return instance_containers(instance_id)


def containers_running(instance_id: str, needle: str, timeout: float = 20) -> list[str]:
    """The instance's containers with a process whose command line has ``needle``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            c
            for c in worker_containers(instance_id)
            if needle
            in subprocess.run(
                ["docker", "top", c, "-eo", "pid,args"], capture_output=True, text=True
            ).stdout
        ]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no container of {instance_id} runs {needle!r}")


@pytest.fixture(scope="session")
def tmp_session() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="code-engine-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def nats_server(tmp_session: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_session)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def daemon(nats_server: NatsServer, tmp_session: Path) -> Iterator[Daemon]:
    daemon = Daemon(nats_server.url, tmp_session / "daemon.log")
    yield daemon
    code = daemon.stop()
    assert code == 0, daemon.log_text()[-3000:]
    assert worker_containers(daemon.instance_id) == []


def pytest_sessionfinish(session, exitstatus):
    # A test that failed half-way may have left its daemon running: stop it and
    # its containers, so nothing outlives the run.
    stop_leftovers()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "integration" in str(item.fspath).split(os.sep) or "hostile" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    # Restarting dockerd disturbs every other test's containers: it goes last.
    items.sort(key=lambda item: item.get_closest_marker("docker_restart") is not None)


__all__ = [
    "ROOT",
    "Daemon",
    "NatsServer",
    "containers_running",
    "run_code",
    "send",
    "send_many",
    "worker_containers",
]
