"""Screenshots of the dashboard with fixed data, compared with the accepted ones.

After a deliberate change of look: `pytest tests/tui --snapshot-update`, then look at
the SVGs under tests/tui/__snapshots__ before accepting them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_harness import BUSY, IDLE, RECYCLING, SIZE, container, job, running, snapshot

from tui.app import DashboardApp
from tui.model import ManualClock
from tui.screenshot import load_demo
from tui.source import FakeStatsSource
from wire.stats import Docker
from wire.status import Status

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The job log shows local times: make them the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def dashboard() -> tuple[DashboardApp, FakeStatsSource, ManualClock]:
    clock = ManualClock(1000.0)
    source = FakeStatsSource()
    return DashboardApp(source, clock=clock), source, clock


def test_busy_fleet(snap_compare: SnapCompare) -> None:
    """Three instances (one gone), the busy one selected, the cursor on its second container."""
    app, source, clock = dashboard()

    async def feed(pilot: Pilot[Any]) -> None:
        await load_demo(app, pilot, source, clock)

    assert snap_compare(app, run_before=feed, press=["tab", "down"], terminal_size=SIZE)


def test_gone_instance_while_disconnected(snap_compare: SnapCompare) -> None:
    """The only instance fell silent and the bus connection is lost: both are said."""
    app, source, clock = dashboard()

    async def feed(pilot: Pilot[Any]) -> None:
        jobs = [
            job(f"j-{n}", Status.OK if n % 4 else Status.TIMEOUT, at=1764196000.0 + n)
            for n in range(6)
        ]
        source.push(snapshot("host-1", recent=jobs, docker=Docker(ok=False, error="dockerd gone")))
        await pilot.pause()
        source.disconnect()
        clock.advance(7.0)
        await pilot.pause()
        app.check_liveness()

    assert snap_compare(app, run_before=feed, terminal_size=SIZE)


def test_recycle_asks_first(snap_compare: SnapCompare) -> None:
    """`r` on a container opens the confirmation over the dashboard."""
    app, source, _ = dashboard()

    async def feed(pilot: Pilot[Any]) -> None:
        containers = [
            container(
                "aaaaaaaaaaa1",
                BUSY,
                jobs=40,
                cpu=80.0,
                memory=300 << 20,
                job=running("j-77", "cpp", 2400.0),
            ),
            container("bbbbbbbbbbb2", IDLE, jobs=38),
            container("ccccccccccc3", RECYCLING, jobs=51, cpu=None, memory=None),
        ]
        source.push(snapshot("host-1", containers=containers))
        await pilot.pause()

    assert snap_compare(app, run_before=feed, press=["tab", "r"], terminal_size=SIZE)
