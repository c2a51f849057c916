"""Shared fixtures. Integration fixtures start a real nats-server and a real daemon."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine_client import EngineClient, build_request
from service.intake.nats_server import config_text, find_binary

ROOT = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("CODE_ENGINE_IMAGE", "code-engine-worker:latest")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


class NatsServer:
    def __init__(self, directory: Path, max_payload: int = 8 << 20) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        conf = directory / "nats.conf"
        conf.write_text(
            config_text(self.port, max_payload, jetstream_dir=str(directory / f"js-{self.port}"))
        )
        self.process = subprocess.Popen(
            [find_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


_DAEMONS: list[Daemon] = []


class Daemon:
    """A real `code-engine serve` process (stopped at the end of the session at the latest)."""

    def __init__(self, nats_url: str, log_path: Path, **env: str) -> None:
        self.nats_url = nats_url
        self.instance_id = env.pop("CODE_ENGINE_INSTANCE_ID", f"test-{uuid.uuid4().hex[:8]}")
        self.log_path = log_path
        self.signalled = False
        environ = {
            **os.environ,
            "NATSURL": nats_url,
            "CODE_ENGINE_INSTANCE_ID": self.instance_id,
            "CODE_ENGINE_IMAGE": IMAGE,
            **env,
        }
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        _DAEMONS.append(self)
        self.wait_ready()

    def send_signal(self, sig: int) -> None:
        self.signalled = True
        self.process.send_signal(sig)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited early:\n{self.log_text()}")
            if (
                "ready" in self.log_text()
                and f"code-engine {self.instance_id} ready" in self.log_text()
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"daemon not ready after {timeout} s:\n{self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Stop the daemon (unless a test already signalled it) and return its exit code."""
        if self.process.poll() is None and not self.signalled:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._log.close()
        return code


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
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=org.code-engine.instance={instance_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


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
    for daemon in _DAEMONS:
        if daemon.process.poll() is None:
            daemon.process.terminate()
            try:
                daemon.process.wait(30)
            except subprocess.TimeoutExpired:
                daemon.process.kill()
        leftovers = worker_containers(daemon.instance_id)
        if leftovers:
            subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "integration" in str(item.fspath).split(os.sep) or "hostile" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    # Restarting dockerd disturbs every other test's containers: it goes last.
    items.sort(key=lambda item: item.get_closest_marker("docker_restart") is not None)


__all__ = ["Daemon", "NatsServer", "json", "run_code", "send", "send_many", "worker_containers"]
