"""Nothing lost to dead parts: idle containers killed from outside, then requests at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import pytest

from engine_client import EngineClient, EngineClientError, build_request
from service.testing.client import send
from service.testing.harness import Daemon, child_pids, instance_containers, wait_for_stats
from service.testing.nats_servers import NatsServer, free_port
from service.testing.waiting import wait_until


@pytest.fixture
def own_nats(tmp_path):
    server = NatsServer(tmp_path)
    yield server
    server.stop()


def idle_containers(snapshot: dict) -> list[str]:
    return [c["id"] for c in snapshot["containers"] if c["state"] == "idle"]


def kill_then_send(url: str, victims: list[str], requests: list[dict], *, together: bool) -> list:
    async def go() -> list:
        async with await EngineClient.connect(url) as client:
            for victim in victims:
                kill = await asyncio.create_subprocess_exec(
                    "docker", "kill", victim, stdout=asyncio.subprocess.DEVNULL
                )
                assert await kill.wait() == 0
            if together:
                return list(await asyncio.gather(*(client.send(r, timeout=60) for r in requests)))
            return [await client.send(r, timeout=60) for r in requests]

    return asyncio.run(go())


def test_idle_containers_killed_then_requests_at_once_are_all_ok(own_nats, tmp_path):
    env = {"CODE_ENGINE_WORKERS": "2", "CODE_ENGINE_CONCURRENCY": "3"}
    with Daemon(own_nats.url, tmp_path / "d.log", env) as daemon:
        for round_, together in enumerate([False, True, True]):
            snapshot = wait_for_stats(
                daemon, lambda s: len(idle_containers(s)) >= 2, what="two idle containers"
            )
            # One idle container in the first rounds, every idle one in the last.
            victims = idle_containers(snapshot)[: 1 if round_ < 2 else None]
            requests = [
                build_request("python", f"print({round_}*10+{n})", request_id=f"r{round_}-{n}")
                for n in range(4)
            ]
            replies = kill_then_send(own_nats.url, victims, requests, together=together)
            assert [r["status"] for r in replies] == ["ok"] * 4, replies
            assert [r["output"] for r in replies] == [f"{round_ * 10 + n}\n" for n in range(4)]
        final = wait_for_stats(
            daemon,
            lambda s: s["pool"]["lost_idle"] + s["pool"]["lost_before_job"] >= 4,
            what="the lost containers counted",
        )
        assert final["counters"]["by_status"].get("internal_error", 0) == 0
        killed = subprocess.run(
            [
                "docker",
                "ps",
                "-aq",
                "--filter",
                f"label=org.code-engine.instance={daemon.instance_id}",
                "--filter",
                "status=exited",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert killed == []  # the dead were removed, not just replaced


def test_a_restart_after_a_crash_sweeps_its_leftovers_and_spares_a_live_neighbour(
    own_nats, tmp_path
):
    crashed = Daemon(own_nats.url, tmp_path / "crashed.log", default_id=True)
    with Daemon(own_nats.url, tmp_path / "neighbour.log", default_id=True) as neighbour:
        assert neighbour.instance_id != crashed.instance_id
        theirs = set(instance_containers(neighbour.instance_id))
        left = set(instance_containers(crashed.instance_id))
        assert left and theirs
        crashed.kill()
        assert set(instance_containers(crashed.instance_id)) == left  # SIGKILL: they stay
        with Daemon(own_nats.url, tmp_path / "again.log", default_id=True) as again:
            assert again.instance_id == crashed.instance_id  # the same default id
            assert not set(instance_containers(again.instance_id)) & left  # swept before ready
            assert set(instance_containers(neighbour.instance_id)) == theirs
        assert neighbour.alive()


def answered_within(url: str, deadline_s: float) -> float:
    """Seconds until a request to ``url`` is answered ok, trying until ``deadline_s``."""
    start = time.monotonic()

    def answered_ok() -> bool:
        left = deadline_s - (time.monotonic() - start)
        try:
            reply = send(url, build_request("python", "print(7)"), timeout=max(left, 0.1))
        except EngineClientError:
            return False
        return reply["status"] == "ok"

    wait_until(answered_ok, timeout=deadline_s, what=f"an ok reply from {url}")
    return time.monotonic() - start


def test_the_embedded_nats_server_killed_is_restarted_and_the_daemon_answers_again(tmp_path):
    url = f"nats://127.0.0.1:{free_port()}"
    with Daemon(url, tmp_path / "d.log", embedded=True) as daemon:
        assert answered_within(url, 10) >= 0
        (server,) = child_pids(daemon.pid, "nats-server")
        os.kill(server, signal.SIGKILL)
        answered_within(url, 10)
        snapshot = wait_for_stats(
            daemon, lambda s: s["nats"]["server_restarts"] == 1, what="one server restart"
        )
        assert snapshot["nats"]["connected"]
        assert child_pids(daemon.pid, "nats-server") != [server]
        assert daemon.alive()


def test_a_durable_reply_missed_on_the_inbox_is_fetched_from_the_kept_replies(own_nats, tmp_path):
    with Daemon(own_nats.url, tmp_path / "d.log", {"CODE_ENGINE_DURABLE": "1"}):

        async def go() -> tuple[dict, list[str]]:
            async with await EngineClient.connect(own_nats.url) as client:
                await client.nc.request("$JS.API.INFO", b"")  # its request inbox exists now
                subscribe = client.nc.subscribe

                async def deaf(subject: str, **options):
                    # Nobody listens on the inbox the engine replies to: the core reply is lost.
                    return await subscribe(f"{subject}.deaf", **options)

                client.nc.subscribe = deaf  # type: ignore[method-assign]
                request = build_request("python", "print('kept')", request_id="missed-1")
                reply = await client.submit_durable(request, timeout=30)
                keys = await (await client.nc.jetstream().key_value("code-engine-replies")).keys()
            return reply, keys

        reply, keys = asyncio.run(go())
        assert (reply["id"], reply["status"], reply["output"]) == ("missed-1", "ok", "kept\n")
        assert keys and "missed-1" not in keys
        assert all(len(key) == 64 and set(key) <= set("0123456789abcdef") for key in keys)
