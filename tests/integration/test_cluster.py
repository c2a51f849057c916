"""A 3-node NATS cluster, two daemons in one queue group, and nodes SIGKILLed under load.

Every reply any daemon publishes is counted by request id by a spy on ``_INBOX.>``
connected to a node that is never killed; the submitters are connected there too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict

import nats
import pytest

from engine_client import EngineClient, EngineClientError, NatsConnection, build_request
from service.testing.harness import Daemon
from service.testing.nats_servers import NatsCluster, NatsServer
from wire.subjects import INSTANCE_HEADER

TAKE_WORK_AGAIN_S = 5.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cluster")
    with NatsCluster(directory) as cluster:
        env = {
            "CODE_ENGINE_DURABLE": "1",
            "CODE_ENGINE_DURABLE_REPLICAS": "3",
            "CODE_ENGINE_WORKERS": "2",
            "CODE_ENGINE_CONCURRENCY": "3",
        }
        daemons = [Daemon(cluster.url, directory / f"d{n}.log", env) for n in (1, 2)]
        try:
            yield cluster, daemons
        finally:
            for daemon in daemons:
                daemon.stop()


class Spy:
    """Counts the replies published on inboxes, by request id, with who sent each and when."""

    def __init__(self) -> None:
        self.replies: Counter[str] = Counter()
        self.answered_by: dict[str, list[tuple[float, str]]] = defaultdict(list)

    async def on_reply(self, msg) -> None:
        try:
            body = json.loads(msg.data)
        except ValueError:
            return
        if isinstance(body, dict) and "status" in body and "id" in body:
            self.replies[body["id"]] += 1
            instance = (msg.headers or {}).get(INSTANCE_HEADER, "")
            self.answered_by[instance].append((time.monotonic(), body["id"]))

    def first_after(self, instance: str, moment: float) -> float | None:
        times = [t for t, _ in self.answered_by[instance] if t > moment]
        return min(times) - moment if times else None


def victims(cluster: NatsCluster, daemons: list[Daemon]) -> list[NatsServer]:
    """The node each daemon is connected to (once each), and a node that is neither."""
    found: list[NatsServer] = []
    for daemon in daemons:
        node = cluster.node_with_client(f"code-engine {daemon.instance_id}")
        if node not in found:
            found.append(node)
    return found


async def kill_nodes(nodes: list[NatsServer], kills: list[tuple[str, float]], pause: float) -> None:
    for node in nodes:
        await asyncio.sleep(pause)
        kills.append((node.url, time.monotonic()))
        node.kill()
        await asyncio.sleep(pause)
        await asyncio.to_thread(node.start, 30.0)


async def under_load(cluster, daemons, send, count: int, spacing: float):
    killed = victims(cluster, daemons)
    safe = next(node for node in cluster.nodes if node not in killed)
    spy_nc = await nats.connect(safe.url)
    spy = Spy()
    await spy_nc.subscribe("_INBOX.>", cb=spy.on_reply)
    kills: list[tuple[str, float]] = []
    try:
        async with await EngineClient.connect(
            connection=NatsConnection(servers=(safe.url,))
        ) as client:

            async def one(n: int):
                await asyncio.sleep(n * spacing)
                request = build_request("python", f"print({n})", request_id=f"r-{n}")
                try:
                    return await send(client, request)
                except EngineClientError as exc:
                    return exc

            killer = asyncio.create_task(kill_nodes(killed, kills, count * spacing / 4))
            results = await asyncio.gather(*(one(n) for n in range(count)))
            await killer
        await asyncio.sleep(1)  # replies still in flight reach the spy
    finally:
        await spy_nc.close()
    return results, spy, kills


def test_durable_requests_through_node_kills_are_answered_exactly_once(cluster):
    nats_cluster, daemons = cluster

    async def durable(client, request):
        return await client.submit_durable(request, timeout=90)

    count = 120
    results, spy, kills = asyncio.run(under_load(nats_cluster, daemons, durable, count, 0.05))
    assert len(kills) >= 1
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sorted(r["id"] for r in results) == sorted(f"r-{n}" for n in range(count))
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"]
    assert [r["output"] for r in sorted(results, key=lambda r: int(r["id"][2:]))] == [
        f"{n}\n" for n in range(count)
    ]
    twice = {rid: n for rid, n in spy.replies.items() if n > 1}
    assert twice == {}


def test_core_requests_through_node_kills_are_answered_or_timed_out_never_twice(cluster):
    nats_cluster, daemons = cluster

    async def core(client, request):
        return await client.send(request, timeout=5)

    count = 120
    results, spy, kills = asyncio.run(under_load(nats_cluster, daemons, core, count, 0.05))
    answered = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert all(r["status"] == "ok" for r in answered)
    assert all("no reply within" in str(e) or "listening" in str(e) for e in lost), lost
    assert {rid: n for rid, n in spy.replies.items() if n > 1} == {}
    # Each daemon takes work again soon after each kill.
    for _url, moment in kills:
        for daemon in daemons:
            gap = spy.first_after(daemon.instance_id, moment)
            assert gap is not None and gap <= TAKE_WORK_AGAIN_S, (daemon.instance_id, gap)
