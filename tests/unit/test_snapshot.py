"""Snapshots built from fakes of the engine's parts, read back as the dashboard reads them."""

from __future__ import annotations

from dataclasses import dataclass, field

import trio
import trio.testing

from docker_api.testing import FakeDockerEngine
from service.operations.metrics import Finished, Metrics
from service.operations.snapshot import (
    RECENT_LIMIT,
    BusHealth,
    PoolView,
    QueueView,
    Snapshotter,
)
from service.operations.stats import StatsPublisher, Usage, UsageSampler
from service.sandbox.container import CurrentJob, State
from wire.admin import EngineState
from wire.stats import CompileCache, ContainerState, Snapshot, decode_snapshot, encode_snapshot
from wire.status import Status

MIB = 1 << 20
NOW = 1_764_196_000.0  # wall clock
CLOCK = 500.0  # Trio clock


class Published:
    """What the publisher sent, in order; a test waits for the next one instead of sleeping."""

    def __init__(self) -> None:
        self.payloads: list[tuple[float, bytes]] = []  # (Trio time, payload)
        self._more = trio.Event()

    def __call__(self, payload: bytes) -> None:
        self.payloads.append((trio.current_time(), payload))
        self._more.set()
        self._more = trio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.payloads) < count:
            await self._more.wait()


@dataclass
class FakeContainer:
    id: str
    state: State = State.IDLE
    jobs_served: int = 0
    current: CurrentJob | None = None
    memory_mb: int = 400

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass
class FakePool:
    containers: list[FakeContainer] = field(default_factory=list)
    docker_ok: bool = True
    last_error: str | None = None
    workers: int = 2
    starting: int = 0
    replaced: int = 0
    lost_idle: int = 0
    lost_before_job: int = 0


@dataclass
class FakeQueue:
    queued: int = 0
    capacity: int = 64
    in_flight: int = 0


@dataclass
class FakeBus:
    connected: bool = True
    reconnects: int = 0
    server_restarts: int = 0


@dataclass
class Parts:
    pool: FakePool = field(default_factory=FakePool)
    queue: FakeQueue = field(default_factory=FakeQueue)
    bus: FakeBus = field(default_factory=FakeBus)
    metrics: Metrics = field(default_factory=lambda: Metrics(started=NOW - 90.0))
    state: EngineState = EngineState.RUNNING

    def snapshotter(self, clock: float = CLOCK) -> Snapshotter:
        pool: PoolView = self.pool
        queue: QueueView = self.queue
        bus: BusHealth = self.bus
        return Snapshotter(
            instance_id="unit-1",
            concurrency=3,
            pool=pool,
            queue=queue,
            bus=bus,
            metrics=self.metrics,
            state=lambda: self.state,
            clock=lambda: clock,
            version="9.9.9",
        )


def finished(
    job_id: str, at: float, status: Status = Status.OK, total_ms: float = 20.0
) -> Finished:
    return Finished(job_id, "python", str(status), total_ms, at)


def read(snapshot: Snapshot) -> Snapshot:
    """What a subscriber gets: the snapshot through its encoding."""
    return decode_snapshot(encode_snapshot(snapshot))


def test_a_snapshot_has_the_numbers_of_the_parts() -> None:
    parts = Parts()
    busy = FakeContainer(
        "a" * 64,
        State.BUSY,
        jobs_served=4,
        current=CurrentJob("j-9", "go", started=CLOCK - 0.25),
    )
    fresh = FakeContainer("b" * 64, State.BUSY, current=CurrentJob("j-10", "python", CLOCK))
    parts.pool = FakePool(
        [busy, fresh],
        docker_ok=False,
        last_error="boom",
        replaced=7,
        lost_idle=2,
        lost_before_job=1,
    )
    parts.queue = FakeQueue(queued=5, capacity=64, in_flight=2)
    parts.bus = FakeBus(connected=True, reconnects=1)
    parts.state = EngineState.DRAINING
    metrics = parts.metrics
    metrics.accepted, metrics.rejected = 12, 3
    metrics.by_status.update({"ok": 10, "timeout": 2})
    metrics.by_language.update({"go": 12})
    for n in range(10):  # one job a second for the last 10 s
        metrics.recent.append(finished(f"j-{n}", NOW - 9.5 + n, total_ms=10.0 * (n + 1)))
    usage = {busy.id: Usage(cpu_percent=55.5, memory_bytes=120 * MIB, memory_limit_bytes=None)}

    s = read(parts.snapshotter()(usage, NOW))

    assert (s.instance, s.version, s.uptime_s, s.state) == ("unit-1", "9.9.9", 90.0, "draining")
    assert (s.docker.ok, s.docker.error) == (False, "boom")
    assert (s.nats.connected, s.nats.reconnects) == (True, 1)
    assert (s.queue.depth, s.queue.capacity) == (5, 64)
    assert (s.workers.busy, s.workers.total) == (2, 3)
    assert (s.pool.size, s.pool.max, s.pool.starting, s.pool.replaced) == (2, 3, 0, 7)
    assert (s.pool.lost_idle, s.pool.lost_before_job) == (2, 1)
    first, second = s.containers
    assert (first.id, first.state, first.jobs) == ("a" * 12, ContainerState.BUSY, 4)
    assert first.job is not None and (first.job.id, first.job.language) == ("j-9", "go")
    assert first.job.elapsed_ms == 250.0
    assert (first.cpu_percent, first.memory_bytes) == (55.5, 120 * MIB)
    assert first.memory_limit_bytes == 400 * MIB  # Docker gave none: the container's own
    # Not sampled yet: no figures rather than zeros.
    assert (second.cpu_percent, second.memory_bytes, second.memory_limit_bytes) == (
        None,
        None,
        400 * MIB,
    )
    assert (s.counters.accepted, s.counters.rejected) == (12, 3)
    assert s.counters.by_status == {Status.OK: 10, Status.TIMEOUT: 2}
    assert s.counters.by_language == {"go": 12}
    assert (s.throughput.last_10s, s.throughput.last_60s) == (1.0, round(10 / 60, 3))
    assert s.latency_ms.p50 == 55.0 and s.latency_ms.p99 is not None
    assert [r.id for r in s.recent] == [f"j-{n}" for n in range(10)]
    assert s.recent[0].status is Status.OK and s.recent[0].total_ms == 10.0


def test_the_compile_cache_figures_are_the_caches_and_zero_without_one() -> None:
    parts = Parts()
    assert parts.snapshotter()({}, now=NOW).compile_cache == CompileCache()
    cache = CompileCache(hits=3, misses=5, entries=4, bytes=2_400_000, capacity_bytes=1 << 28)
    with_cache = Snapshotter(
        instance_id="unit-1",
        concurrency=3,
        pool=parts.pool,
        queue=parts.queue,
        bus=parts.bus,
        metrics=parts.metrics,
        state=lambda: parts.state,
        clock=lambda: CLOCK,
        compile_cache=lambda: cache,
    )
    assert with_cache({}, now=NOW).compile_cache == cache


def test_every_container_state_has_a_wire_name() -> None:
    parts = Parts()
    parts.pool.containers = [FakeContainer(f"{n:064d}", state) for n, state in enumerate(State)]
    s = read(parts.snapshotter()({}, NOW))
    assert [c.state for c in s.containers] == [ContainerState(str(state)) for state in State]


def test_an_idle_engine_has_no_latency_and_no_throughput() -> None:
    s = read(Parts().snapshotter()({}, NOW))
    assert (s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99) == (None, None, None)
    assert (s.throughput.last_10s, s.recent, s.containers) == (0.0, (), ())


def test_recent_jobs_are_reported_once() -> None:
    parts = Parts()
    snapshot = parts.snapshotter()
    parts.metrics.recent.extend([finished("j-1", NOW - 2), finished("j-2", NOW - 1)])
    assert [r.id for r in snapshot({}, NOW).recent] == ["j-1", "j-2"]
    assert snapshot({}, NOW + 1).recent == ()
    parts.metrics.recent.append(finished("j-3", NOW + 1.5))
    assert [r.id for r in snapshot({}, NOW + 2).recent] == ["j-3"]


def test_a_wall_clock_step_neither_repeats_nor_skips_a_job() -> None:
    parts = Parts()
    snapshot = parts.snapshotter()
    parts.metrics.recent.append(finished("j-1", NOW))
    assert [r.id for r in snapshot({}, NOW).recent] == ["j-1"]
    # The clock is set back a minute: the next job finishes "before" the last snapshot.
    parts.metrics.recent.append(finished("j-2", NOW - 60))
    assert [r.id for r in snapshot({}, NOW - 59).recent] == ["j-2"]
    assert snapshot({}, NOW - 58).recent == ()


def test_a_burst_lists_only_the_newest_jobs_and_none_twice() -> None:
    parts = Parts()
    snapshot = parts.snapshotter()
    parts.metrics.recent.extend(finished(f"j-{n}", NOW) for n in range(RECENT_LIMIT + 20))
    listed = [r.id for r in snapshot({}, NOW).recent]
    assert listed == [f"j-{n}" for n in range(20, RECENT_LIMIT + 20)]
    assert snapshot({}, NOW + 1).recent == ()


async def test_the_publisher_sends_decodable_snapshots_with_usage_as_sampled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Memory comes with a container's first sample, CPU % with its second."""
    fake = FakeDockerEngine(images=["worker"])
    fake.stats_tick = 1.0  # samples come at t = 1, 2, ...; snapshots at 1.25, 2.25
    published = Published()
    async with fake.client() as docker:
        container_id = await docker.containers.create({"Image": "worker"})
        await docker.containers.start(container_id)
        parts = Parts()
        parts.pool.containers = [FakeContainer(container_id)]
        publisher = StatsPublisher(
            parts.snapshotter(),
            lambda: [c.id for c in parts.pool.containers],
            UsageSampler(docker),
            published,
            interval=1.0,
        )
        await trio.sleep(0.25)  # the mock clock's timeline: a quarter second past a stats tick
        async with trio.open_nursery() as nursery:
            await nursery.start(publisher.run)
            await published.wait_for(1)
            fake.container(container_id).stats = {
                "cpu_stats": {
                    "cpu_usage": {"total_usage": 3_000_000},
                    "system_cpu_usage": 1_010_000_000,
                    "online_cpus": 2,
                },
                "memory_stats": {"usage": 30 * MIB, "stats": {"cache": 10 * MIB}, "limit": MIB},
            }
            await published.wait_for(2)
            nursery.cancel_scope.cancel()
    assert [at for at, _ in published.payloads] == [1.25, 2.25]
    first, second = (decode_snapshot(p).containers[0] for _, p in published.payloads)
    assert (first.cpu_percent, first.memory_bytes) == (None, 8 * MIB)
    assert (second.cpu_percent, second.memory_bytes) == (40.0, 20 * MIB)
    assert second.memory_limit_bytes == MIB


async def test_slow_docker_stats_neither_delay_snapshots_nor_leave_containers_unsampled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Docker answers one-shot stats at its next one-second tick; snapshots keep their cadence."""
    fake = FakeDockerEngine(images=["worker"])
    fake.stats_tick = 1.0
    published = Published()
    async with fake.client() as docker:
        parts = Parts()
        for _ in range(3):
            container_id = await docker.containers.create({"Image": "worker"})
            await docker.containers.start(container_id)
            parts.pool.containers.append(FakeContainer(container_id, state=State.BUSY))
        publisher = StatsPublisher(
            parts.snapshotter(),
            lambda: [c.id for c in parts.pool.containers],
            UsageSampler(docker),
            published,
            interval=1.0,
        )
        await trio.sleep(0.5)  # the mock clock's timeline: half a second past a stats tick
        async with trio.open_nursery() as nursery:
            await nursery.start(publisher.run)
            await published.wait_for(4)
            nursery.cancel_scope.cancel()
    assert [at for at, _ in published.payloads] == [1.5, 2.5, 3.5, 4.5]
    # Every container, busy as it is, sampled from the first snapshot on.
    for _, payload in published.payloads:
        snapshot = decode_snapshot(payload)
        assert [c.memory_bytes for c in snapshot.containers] == [8 * MIB] * 3
