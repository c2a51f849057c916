"""The Docker daemon stops and comes back: the engine answers throughout and rebuilds its pool.

This restarts the machine's dockerd, so conftest runs it after every other test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_code, send, worker_containers

from engine_client import build_request
from service.testing.harness import Daemon, NatsServer, job_running, wait_for_stats

pytestmark = pytest.mark.docker_restart


def dockerd_pid() -> int:
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    assert pids, "dockerd is not running"
    return pids[0]


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def test_dockerd_restart_rebuilds_the_pool(tmp_path: Path):
    nats_server = NatsServer(tmp_path)
    daemon = Daemon(nats_server.url, tmp_path / "d.log")
    try:
        assert run_code(nats_server.url, "python", "print(1)")["status"] == "ok"
        in_flight: list[dict] = []
        body = build_request("python", "import time\ntime.sleep(30)", request_id="in-flight")
        thread = threading.Thread(
            target=lambda: in_flight.append(send(nats_server.url, body, timeout=60))
        )
        thread.start()
        wait_for_stats(daemon, job_running("in-flight"), what="the job running")

        os.kill(dockerd_pid(), signal.SIGTERM)
        deadline = time.monotonic() + 60
        while docker_answers() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not docker_answers()
        thread.join(60)
        assert in_flight and in_flight[0]["status"] == "internal_error", in_flight
        wait_for_stats(daemon, lambda s: not s["docker"]["ok"], what="Docker seen down")
        down = run_code(nats_server.url, "python", "print(1)")
        assert down["status"] == "busy"
        assert "Docker" in down["error"]

        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        wait_for_stats(
            daemon,
            lambda s: s["docker"]["ok"] and any(c["state"] == "idle" for c in s["containers"]),
            timeout=60,
            what="Docker back and a warm container",
        )
        reply = run_code(nats_server.url, "python", "print('back')")
        assert reply["status"] == "ok", reply
        assert reply["output"] == "back\n"
        assert "Docker daemon answers again" in daemon.log_text()
    finally:
        if not docker_answers():
            subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        assert daemon.stop() == 0
        nats_server.stop()
    assert worker_containers(daemon.instance_id) == []
