"""Drives the dashboard against a FakeStatsSource and a ManualClock, and builds stats.

The stats are :mod:`wire.stats` structs, the type the engine publishes; the fake
source encodes and decodes them as the real one would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from textual.pilot import Pilot

from tui.app import DashboardApp
from tui.model import ManualClock
from tui.source import FakeStatsSource
from tui.widgets.connection_status import ConnectionStatus
from tui.widgets.containers_table import ContainersTable
from tui.widgets.instance_header import InstanceHeader
from tui.widgets.instance_list import InstanceList
from tui.widgets.job_log import JobLog
from wire.admin import EngineState
from wire.stats import (
    CompileCache,
    Container,
    ContainerJob,
    ContainerState,
    Counters,
    Docker,
    Latency,
    Nats,
    Pool,
    Queue,
    RecentJob,
    Snapshot,
    Throughput,
    Workers,
)
from wire.status import Status

MIB = 1 << 20
SIZE = (120, 40)

BUSY = ContainerState.BUSY
IDLE = ContainerState.IDLE
WARMING = ContainerState.WARMING
RECYCLING = ContainerState.RECYCLING


def running(jid: str, language: str = "python", elapsed_ms: float = 120.0) -> ContainerJob:
    """The job a container is running."""
    return ContainerJob(id=jid, language=language, elapsed_ms=elapsed_ms)


def container(
    cid: str,
    state: ContainerState = IDLE,
    *,
    jobs: int = 0,
    job: ContainerJob | None = None,
    cpu: float | None = 1.0,
    memory: int | None = 10 * MIB,
) -> Container:
    return Container(
        id=cid,
        state=state,
        jobs=jobs,
        job=job,
        cpu_percent=cpu,
        memory_bytes=memory,
        memory_limit_bytes=400 * MIB,
    )


def snapshot(
    instance: str = "host-1",
    *,
    state: EngineState = EngineState.RUNNING,
    containers: Iterable[Container] | None = None,
    recent: Iterable[RecentJob] = (),
    throughput: float = 1.5,
    **fields: Any,
) -> Snapshot:
    """A snapshot as the engine publishes it; `fields` replace top-level fields."""
    if containers is None:
        containers = [
            container(
                "aaaaaaaaaaa1",
                BUSY,
                jobs=12,
                job=running("j-1", "python", 120.0),
                cpu=55.0,
                memory=120 * MIB,
            ),
            container("bbbbbbbbbbb2", IDLE, jobs=7),
        ]
    containers = tuple(containers)
    busy = sum(c.state is BUSY for c in containers)
    base = Snapshot(
        instance=instance,
        version="0.1.0",
        uptime_s=754.0,
        state=state,
        docker=Docker(ok=True, error=None),
        nats=Nats(connected=True),
        queue=Queue(depth=2, capacity=64),
        workers=Workers(busy=busy, total=3),
        pool=Pool(size=2, max=3, starting=0, replaced=4),
        compile_cache=CompileCache(
            hits=3, misses=5, entries=4, bytes=2_400_000, capacity_bytes=256 << 20
        ),
        containers=containers,
        counters=Counters(
            accepted=20,
            rejected=1,
            by_status={Status.OK: 17, Status.TIMEOUT: 2, Status.RUNTIME_ERROR: 1},
            by_language={"python": 15, "go": 5},
        ),
        throughput=Throughput(last_10s=throughput, last_60s=1.1),
        latency_ms=Latency(p50=21.0, p95=48.5, p99=90.0),
        recent=tuple(recent),
    )
    return msgspec.structs.replace(base, **fields)


def job(
    jid: str,
    status: Status = Status.OK,
    language: str = "python",
    at: float = 1764196000.0,
) -> RecentJob:
    """A finished job, as listed in a snapshot's `recent`."""
    return RecentJob(id=jid, language=language, status=status, total_ms=25.0, at=at)


@dataclass
class Harness:
    app: DashboardApp
    pilot: Pilot[int]
    source: FakeStatsSource
    clock: ManualClock

    async def push(self, *snapshots: Snapshot) -> None:
        for s in snapshots:
            self.source.push(s)
        await self.pilot.pause()

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.settle()

    async def settle(self) -> None:
        """Let admin requests finish and their results arrive."""
        await self.pilot.pause()
        admin = [w for w in self.app.workers if w.group == "admin"]
        if admin:  # an empty list would mean every worker, the stats one too
            await self.app.workers.wait_for_complete(admin)
        await self.pilot.pause()

    async def tick(self, seconds: float) -> None:
        """Let `seconds` pass on the dashboard's clock and run its liveness check."""
        self.clock.advance(seconds)
        self.app.check_liveness()
        await self.pilot.pause()

    @property
    def table(self) -> ContainersTable:
        return self.app.query_one(ContainersTable)

    def cell(self, container_id: str, column: str) -> str:
        return self.table.get_cell(container_id, column).plain

    def instances(self) -> dict[str, str]:
        """Instance id -> the text of its entry in the instance list."""
        options = self.app.query_one(InstanceList).options
        return {str(o.id): getattr(o.prompt, "plain", str(o.prompt)) for o in options}

    def header(self) -> str:
        return self.app.query_one(InstanceHeader).render().plain

    def connection(self) -> str:
        return self.app.query_one(ConnectionStatus).render().plain

    def log_lines(self) -> list[str]:
        return [line.text.rstrip() for line in self.app.query_one(JobLog).lines]

    def notifications(self) -> list[tuple[str, str, str]]:
        """(severity, title, message) of each notification shown so far."""
        return [(n.severity, n.title, n.message) for n in self.app._notifications]


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 10
) -> None:
    """Let the app run until ``condition()`` holds, for what comes from outside it.

    For a dashboard fed by a real NATS server or daemon, which announce nothing
    to the test; a FakeStatsSource needs none of it (push, then ``pilot.pause()``).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            status = pilot.app.query_one(ConnectionStatus).render().plain
            raise AssertionError(f"timed out; status line: {status}")
        await pilot.pause(0.05)


Scenario = Callable[[Harness], Awaitable[None]]


def drive(scenario: Scenario, *, connected: bool = True, size: tuple[int, int] = SIZE) -> None:
    """Run `scenario` against a fresh dashboard in its own event loop."""

    async def main() -> None:
        clock = ManualClock(100.0)
        source = FakeStatsSource(connected=connected)
        app = DashboardApp(source, clock=clock)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(Harness(app, pilot, source, clock))

    asyncio.run(main())
