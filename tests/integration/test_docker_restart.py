"""The Docker daemon stops and comes back: the engine answers throughout and rebuilds its pool.

This restarts the machine's dockerd, so conftest runs it after every other test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import nats
import pytest
from conftest import ROOT, run_code, worker_containers

from engine_client import build_request
from service.testing.harness import Daemon, NatsServer

pytestmark = pytest.mark.docker_restart


def dockerd_pid() -> int:
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    assert pids, "dockerd is not running"
    return pids[0]


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


async def _request(url: str, body: dict, timeout: float) -> dict:
    nc = await nats.connect(url)
    try:
        msg = await nc.request(
            "compiler.execute.request", json.dumps(body).encode(), timeout=timeout
        )
        return json.loads(msg.data)
    finally:
        await nc.close()


def test_dockerd_restart_rebuilds_the_pool(tmp_path: Path):
    nats_server = NatsServer(tmp_path)
    daemon = Daemon(nats_server.url, tmp_path / "d.log")
    try:
        assert run_code(nats_server.url, "python", "print(1)")["status"] == "ok"
        in_flight: list[dict] = []
        body = build_request("python", "import time\ntime.sleep(30)", request_id="in-flight")
        thread = threading.Thread(
            target=lambda: in_flight.append(asyncio.run(_request(nats_server.url, body, 60)))
        )
        thread.start()
        time.sleep(1)

        os.kill(dockerd_pid(), signal.SIGTERM)
        deadline = time.monotonic() + 60
        while docker_answers() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not docker_answers()
        thread.join(60)
        assert in_flight and in_flight[0]["status"] == "internal_error", in_flight
        time.sleep(2)  # the next health check notices
        down = run_code(nats_server.url, "python", "print(1)")
        assert down["status"] == "busy"
        assert "Docker" in down["error"]

        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        deadline = time.monotonic() + 60
        reply = down
        while time.monotonic() < deadline:
            reply = run_code(nats_server.url, "python", "print('back')")
            if reply["status"] == "ok":
                break
            time.sleep(0.5)
        assert reply["status"] == "ok", reply
        assert reply["output"] == "back\n"
        assert "Docker daemon answers again" in daemon.log_text()
    finally:
        if not docker_answers():
            subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        assert daemon.stop() == 0
        nats_server.stop()
    assert worker_containers(daemon.instance_id) == []
