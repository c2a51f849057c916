"""Durable mode: JetStream work queue, acknowledged after the reply, redelivered on death."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import nats

from engine_client import EngineClient, build_request
from service.testing.harness import (
    ROOT,
    Daemon,
    containers_running,
    instance_containers,
    job_running,
    nats_request,
    wait_for_stats,
)
from service.testing.nats_servers import NatsServer

DURABLE = {"CODE_ENGINE_DURABLE": "1", "CODE_ENGINE_DURABLE_ACK_WAIT_S": "2"}


def submit(url: str, request: dict, timeout: float = 60) -> dict:
    async def go() -> dict:
        async with await EngineClient.connect(url) as client:
            return await client.submit_durable(request, timeout=timeout)

    return asyncio.run(go())


def test_durable_request_is_answered_once(tmp_path):
    server = NatsServer(tmp_path)
    daemon = Daemon(server.url, tmp_path / "d.log", DURABLE)
    try:
        reply = submit(server.url, build_request("python", "print('durable')", request_id="d1"))
        assert reply["status"] == "ok"
        assert reply["output"] == "durable\n"
        # Plain request-reply keeps working in durable mode.
        cli = [sys.executable, "-m", "service", "run", "--nats", server.url]
        plain = subprocess.run(
            [*cli, "/dev/stdin", "--lang", "py"],
            input=b"print('plain')",
            capture_output=True,
            cwd=ROOT,
        )
        assert plain.stdout == b"plain\n"
    finally:
        assert daemon.stop() == 0
        server.stop()


def test_duplicate_submissions_run_once(tmp_path):
    server = NatsServer(tmp_path)
    daemon = Daemon(server.url, tmp_path / "d.log", DURABLE)
    try:
        code = "import time\ntime.sleep(0.5)\nprint('x')"

        async def twice() -> list[dict]:
            async with await EngineClient.connect(server.url) as client:
                first = asyncio.create_task(
                    client.submit_durable(
                        build_request("python", code, request_id="same"), timeout=4
                    )
                )
                # The second goes out once the first is in the engine.
                await asyncio.to_thread(
                    wait_for_stats,
                    daemon,
                    lambda s: s["counters"]["accepted"] >= 1,
                    what="the first accepted",
                )
                second = asyncio.create_task(
                    client.submit_durable(
                        build_request("python", code, request_id="same"), timeout=4
                    )
                )
                return list(await asyncio.gather(first, second, return_exceptions=True))

        first, second = asyncio.run(twice())
        assert first["status"] == "ok"
        assert isinstance(second, Exception)  # the stream dropped it: no second run, no reply
        stats = nats_request(server.url, f"$SRV.STATS.code-engine.{daemon.instance_id}")
        compiler = next(e for e in stats["endpoints"] if e["name"] == "compiler")
        assert compiler["num_requests"] == 1
    finally:
        assert daemon.stop() == 0
        server.stop()


def test_sigkill_mid_job_is_redelivered_to_another_instance(tmp_path):
    server = NatsServer(tmp_path)
    a = Daemon(server.url, tmp_path / "a.log", DURABLE)
    replies: list = []

    async def client() -> None:
        nc = await nats.connect(server.url)
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        js = nc.jetstream()
        body = build_request(
            "python",
            "import time\ntime.sleep(1.5)\nprint('finished')",
            request_id="survivor",
            timeout_ms=9000,  # a cold start: its command line shows while it runs
        )
        await js.publish(
            "code-engine.durable.compiler",
            json.dumps(body).encode(),
            headers={"Nats-Msg-Id": "survivor", "Code-Engine-Reply": inbox},
        )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                continue
            replies.append((json.loads(msg.data), msg.headers or {}))
        await nc.close()

    thread = threading.Thread(target=lambda: asyncio.run(client()))
    thread.start()
    try:
        containers_running(a.instance_id, "/work/build/main.py")
        a.kill()  # SIGKILL: no reply, no ack
        b = Daemon(server.url, tmp_path / "b.log", DURABLE)
        thread.join()
        assert len(replies) == 1, replies
        reply, headers = replies[0]
        assert reply["status"] == "ok" and reply["output"] == "finished\n"
        assert headers.get("Code-Engine-Instance") == b.instance_id
        assert b.stop() == 0
    finally:
        thread.join()
        subprocess.run(
            ["docker", "rm", "-f", *instance_containers(a.instance_id)], capture_output=True
        )
        server.stop()


def test_poison_request_is_dead_lettered_and_answered(tmp_path):
    server = NatsServer(tmp_path)
    settings = {**DURABLE, "CODE_ENGINE_DURABLE_MAX_DELIVER": "2"}
    first = Daemon(server.url, tmp_path / "a.log", settings)
    results: dict = {"replies": [], "dead": []}

    async def client() -> None:
        nc = await nats.connect(server.url)
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        dead = await nc.subscribe("code-engine.dead.compiler")
        js = nc.jetstream()
        body = build_request("python", "import time\ntime.sleep(30)", request_id="poison")
        await js.publish(
            "code-engine.durable.compiler",
            json.dumps(body).encode(),
            headers={"Nats-Msg-Id": "poison", "Code-Engine-Reply": inbox},
        )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not (results["replies"] and results["dead"]):
            for target, s in (("replies", sub), ("dead", dead)):
                try:
                    msg = await s.next_msg(timeout=0.5)
                    results[target].append(json.loads(msg.data))
                except nats.errors.TimeoutError:
                    pass
        await nc.close()

    thread = threading.Thread(target=lambda: asyncio.run(client()))
    thread.start()
    wait_for_stats(first, job_running("poison"), what="the job delivered")  # once, to `first`
    first.kill()  # which dies with it
    second = Daemon(server.url, tmp_path / "b.log", settings)
    thread.join()
    try:
        assert len(results["replies"]) == 1
        assert results["replies"][0]["status"] == "internal_error"
        assert "delivered 2 times" in results["replies"][0]["error"]
        assert results["dead"][0]["id"] == "poison"
    finally:
        assert second.stop() == 0
        subprocess.run(
            ["docker", "rm", "-f", *instance_containers(first.instance_id)], capture_output=True
        )
        server.stop()
