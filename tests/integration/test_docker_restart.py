"""The Docker daemon stops and comes back: the engine answers throughout and rebuilds its pool.

This restarts the machine's dockerd, so conftest runs it after every other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine_client import EngineClient, build_request
from service.testing.client import run_code, send
from service.testing.harness import ROOT, Daemon, instance_containers, job_running, wait_for_stats
from service.testing.nats_servers import NatsServer
from service.testing.waiting import WaitTimeout, wait_until

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
        wait_until(lambda: not docker_answers(), timeout=60, interval=0.2, what="dockerd gone")
        thread.join(60)
        assert in_flight and in_flight[0]["status"] == "internal_error", in_flight
        wait_for_stats(daemon, lambda s: not s["docker"]["ok"], what="Docker seen down")
        down = run_code(nats_server.url, "python", "print(1)")
        assert down["status"] == "busy"
        assert "Docker" in down["error"]

        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        # The snapshots said Docker down, then Docker answering again (its log says so too).
        wait_for_stats(
            daemon,
            lambda s: s["docker"]["ok"] and any(c["state"] == "idle" for c in s["containers"]),
            timeout=60,
            what="Docker back and a warm container",
        )
        reply = run_code(nats_server.url, "python", "print('back')")
        assert reply["status"] == "ok", reply
        assert reply["output"] == "back\n"
    finally:
        if not docker_answers():
            subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        assert daemon.stop() == 0
        nats_server.stop()
    assert instance_containers(daemon.instance_id) == []


@dataclass
class Sent:
    at: float
    answered: float
    status: str


def _load(url: str, stop: threading.Event, sent: list[Sent], errors: list[str]) -> None:
    """Three clients sending hello worlds one after another until ``stop``."""

    async def client_loop(client: EngineClient, n: int) -> None:
        while not stop.is_set():
            at = time.monotonic()
            try:
                reply = await client.execute("python", f"print({n})", timeout=60)
            except Exception as exc:  # a lost request is the failure this test looks for
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            sent.append(Sent(at, time.monotonic(), reply["status"]))
            if reply["status"] == "ok" and reply["output"] != f"{n}\n":
                errors.append(f"wrong output {reply['output']!r}")
            if reply["status"] == "busy":
                await asyncio.sleep(0.05)  # what a client does when told to come back

    async def go() -> None:
        async with await EngineClient.connect(url) as client:
            await asyncio.gather(*(client_loop(client, n) for n in range(3)))

    asyncio.run(go())


def test_dockerd_sigkilled_under_load_then_ok_within_20_s_of_docker_answering(tmp_path: Path):
    nats_server = NatsServer(tmp_path)
    daemon = Daemon(nats_server.url, tmp_path / "d.log", {"CODE_ENGINE_WORKERS": "3"})
    stop = threading.Event()
    sent: list[Sent] = []
    errors: list[str] = []
    load = threading.Thread(target=_load, args=(nats_server.url, stop, sent, errors))
    try:
        load.start()
        wait_for_stats(
            daemon, lambda s: s["counters"]["by_status"].get("ok", 0) >= 20, what="load served"
        )
        os.kill(dockerd_pid(), signal.SIGKILL)
        killed = time.monotonic()
        assert not docker_answers()
        wait_for_stats(daemon, lambda s: not s["docker"]["ok"], what="Docker seen down")
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        answering = time.monotonic()
        assert docker_answers()
        wait_until(
            lambda: any(s.status == "ok" and s.at > answering for s in sent),
            timeout=answering + 60 - time.monotonic(),
            interval=0.1,
            what="an ok reply to a request sent after Docker answered",
        )
        first_ok = min(s.answered for s in sent if s.status == "ok" and s.at > answering)
        assert first_ok - answering < 20, f"ok {first_ok - answering:.1f} s after Docker answered"
        # The load keeps being served: a few more rounds on the rebuilt pool, as
        # many of them as come before the deadline, for the checks below.
        served = len(sent)
        with contextlib.suppress(WaitTimeout):
            wait_until(
                lambda: len(sent) >= served + 15,
                timeout=max(0.0, answering + 60 - time.monotonic()),
                interval=0.1,
                what="15 more replies",
            )
    finally:
        stop.set()
        load.join(90)
        if not docker_answers():
            subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
        code = daemon.stop()
        nats_server.stop()
    assert not load.is_alive()
    assert code == 0, daemon.log_text()[-3000:]
    # Nothing lost: every request had its reply; while Docker was gone it said so.
    assert errors == [], errors[:5]
    during = {s.status for s in sent if killed <= s.at < answering}
    assert during <= {"busy", "internal_error", "ok"}, during
    after = [s.status for s in sent if s.at > first_ok]
    assert after and set(after) == {"ok"}, after
    assert instance_containers(daemon.instance_id) == []
