"""The dashboard against the real daemon on real Docker and NATS, headless."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Static
from tui_harness import SIZE, wait_until

from engine_client import EngineClient
from tui.app import DashboardApp
from tui.source import NatsStatsSource
from tui.widgets.job_log import JobLog

pytestmark = pytest.mark.integration


def _text(widget: Static) -> str:
    return str(widget.render())


def _log_text(log: JobLog) -> str:
    return "\n".join("".join(segment.text for segment in strip) for strip in log.lines)


def test_a_job_and_the_throughput_change_appear_on_screen(daemon) -> None:
    async def body() -> None:
        app = DashboardApp(NatsStatsSource(daemon.nats_url, reconnect_wait=0.1))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.fleet.state(daemon.instance_id) is not None, 15)
            app.selected = daemon.instance_id
            await pilot.pause()
            rates = app.query_one("#throughput-rates", Static)
            before = app.fleet.state(daemon.instance_id).snapshot.throughput.last_10s
            async with await EngineClient.connect(daemon.nats_url) as client:
                replies = await asyncio.gather(
                    *(
                        client.execute("python", "print('seen')", request_id=f"tui-e2e-{i}")
                        for i in range(5)
                    )
                )
            assert all(r["status"] == "ok" for r in replies)
            log = app.query_one(JobLog)
            await wait_until(pilot, lambda: "tui-e2e-" in _log_text(log), 15)
            await wait_until(
                pilot,
                lambda: app.fleet.state(daemon.instance_id).snapshot.throughput.last_10s > before,
                15,
            )
            await pilot.pause()
            shown = app.fleet.state(daemon.instance_id).snapshot.throughput.last_10s
            assert f"{shown:.2f}" in _text(rates)
            assert "python" in _log_text(log)

    asyncio.run(body())
