"""Faults against the real thing: signals, NATS restarts, killed containers, scale-out."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
import time

import nats
import pytest

from engine_client import build_request
from service.testing.client import run_code
from service.testing.harness import (
    Daemon,
    containers_running,
    instance_containers,
    job_running,
    wait_for_stats,
)
from service.testing.nats_servers import NatsServer
from service.testing.waiting import wait_until


async def _gather_requests(url: str, requests: list[dict], timeout: float = 60) -> list:
    nc = await nats.connect(url)
    try:

        async def one(body: dict):
            try:
                msg = await nc.request(
                    "compiler.execute.request", json.dumps(body).encode(), timeout=timeout
                )
                return json.loads(msg.data), msg.headers or {}
            except Exception as exc:
                return exc, {}

        return list(await asyncio.gather(*(one(r) for r in requests)))
    finally:
        await nc.close()


@pytest.fixture
def own_nats(tmp_path):
    """A nats-server of the test's own: no other test's daemon shares its queue group."""
    server = NatsServer(tmp_path)
    yield server
    server.stop()


def sleeper(seconds: float, request_id: str, **fields: object) -> dict:
    return build_request(
        "python",
        f"import time\ntime.sleep({seconds})\nprint('done')",
        request_id=request_id,
        **fields,
    )


# Not the default limits, so not a warm start: the program's own command line
# (/work/build/main.py) shows in `docker top` while its code runs.
COLD = {"timeout_ms": 9000}


def test_sigterm_answers_every_request_and_removes_containers(own_nats, tmp_path):
    daemon = Daemon(own_nats.url, tmp_path / "d.log")
    # Long enough for a stats snapshot (one every one to two seconds) to catch three
    # running and three queued.
    requests = [sleeper(4, f"r{i}") for i in range(6)]
    result: list = []
    thread = threading.Thread(
        target=lambda: result.extend(asyncio.run(_gather_requests(own_nats.url, requests)))
    )
    thread.start()
    wait_for_stats(
        daemon,
        lambda s: s["workers"]["busy"] == 3 and s["queue"]["depth"] == 3,
        what="three running, three queued",
    )
    daemon.send_signal(signal.SIGTERM)
    thread.join()
    assert daemon.stop() == 0
    assert sorted(r["id"] for r, _ in result) == [f"r{i}" for i in range(6)]
    assert all(r["status"] == "ok" for r, _ in result), result
    assert instance_containers(daemon.instance_id) == []


def test_shutdown_grace_cuts_long_jobs_with_a_clear_reply(own_nats, tmp_path):
    daemon = Daemon(own_nats.url, tmp_path / "d.log", {"CODE_ENGINE_SHUTDOWN_GRACE_S": "1"})
    result: list = []
    thread = threading.Thread(
        target=lambda: result.extend(
            asyncio.run(_gather_requests(own_nats.url, [sleeper(8, "long")]))
        )
    )
    thread.start()
    wait_for_stats(daemon, job_running("long"), what="the job running")
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    thread.join()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 10  # grace 1 s, then cleanup
    reply = result[0][0]
    assert reply["status"] == "internal_error"
    assert "shutting down" in reply["error"]
    assert instance_containers(daemon.instance_id) == []


def test_second_signal_exits_at_once_and_still_removes_containers(own_nats, tmp_path):
    daemon = Daemon(own_nats.url, tmp_path / "d.log")
    thread = threading.Thread(
        target=lambda: asyncio.run(_gather_requests(own_nats.url, [sleeper(8, "long")], timeout=20))
    )
    thread.start()
    wait_for_stats(daemon, job_running("long"), what="the job running")
    daemon.send_signal(signal.SIGTERM)
    wait_for_stats(daemon, lambda s: s["state"] == "draining", what="the drain begun")
    started = time.monotonic()
    daemon.send_signal(signal.SIGINT)
    assert daemon.stop(timeout=20) == 0
    assert time.monotonic() - started < 5
    thread.join()
    assert instance_containers(daemon.instance_id) == []


def test_leftover_containers_of_the_same_instance_are_removed_at_start(own_nats, tmp_path):
    first = Daemon(own_nats.url, tmp_path / "a.log")
    leftovers = instance_containers(first.instance_id)
    first.kill()  # no cleanup
    assert leftovers
    other = Daemon(own_nats.url, tmp_path / "b.log")  # another instance: must not touch them
    assert set(instance_containers(first.instance_id)) == set(leftovers)
    again = Daemon(own_nats.url, tmp_path / "c.log", instance_id=first.instance_id)
    remaining = set(instance_containers(first.instance_id))
    assert not remaining & set(leftovers)
    assert again.stop() == 0 and other.stop() == 0


def test_container_killed_from_outside_is_replaced_within_two_seconds(own_nats, tmp_path):
    daemon = Daemon(own_nats.url, tmp_path / "d.log")
    try:
        result: list = []
        thread = threading.Thread(
            target=lambda: result.extend(
                asyncio.run(_gather_requests(own_nats.url, [sleeper(5, "victim", **COLD)]))
            )
        )
        thread.start()
        busy = containers_running(daemon.instance_id, "/work/build/main.py")
        killed_at = time.monotonic()
        subprocess.run(["docker", "kill", busy[0]], check=True, capture_output=True)
        thread.join()
        assert result[0][0]["status"] == "internal_error"
        assert time.monotonic() - killed_at < 2
        wait_until(
            lambda: busy[0] not in instance_containers(daemon.instance_id),
            timeout=2.5,
            what="the killed container removed",
            show=lambda: instance_containers(daemon.instance_id),
        )
        assert run_code(own_nats.url, "python", "print('still here')")["status"] == "ok"
    finally:
        assert daemon.stop() == 0


def test_two_daemons_share_the_load_through_the_queue_group(tmp_path):
    server = NatsServer(tmp_path)
    a = Daemon(server.url, tmp_path / "a.log")
    b = Daemon(server.url, tmp_path / "b.log")
    try:
        requests = [build_request("python", "print(1)", request_id=str(i)) for i in range(30)]
        replies = asyncio.run(_gather_requests(server.url, requests))
        assert all(r["status"] == "ok" for r, _ in replies)
        served = {h.get("Code-Engine-Instance") for _, h in replies}
        assert served == {a.instance_id, b.instance_id}
    finally:
        assert a.stop() == 0 and b.stop() == 0
        server.stop()


@pytest.mark.slow
def test_nats_server_restart_mid_load(tmp_path):
    server = NatsServer(tmp_path)
    daemon = Daemon(server.url, tmp_path / "d.log")
    try:
        before = asyncio.run(_gather_requests(server.url, [sleeper(0.1, str(i)) for i in range(5)]))
        assert all(r["status"] == "ok" for r, _ in before)
        server.restart()  # same port, same store
        # The daemon counts the reconnection in its snapshot (its log says it too).
        wait_for_stats(daemon, lambda s: s["nats"]["reconnects"] >= 1, what="a reconnection")
        after = asyncio.run(_gather_requests(server.url, [sleeper(0.1, str(i)) for i in range(10)]))
        assert all(r["status"] == "ok" for r, _ in after)
    finally:
        assert daemon.stop() == 0
        server.stop()
