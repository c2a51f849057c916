"""What an instance looks like right now: the stats snapshot's content.

:class:`Snapshotter` reads the parts of the engine through small views (the
protocols below), each the few attributes it needs, so it is built and tested
without an engine; the publisher (:mod:`service.operations.stats`) encodes what
it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import trio

from service import __version__
from service.operations.metrics import Finished, Metrics
from service.operations.stats import Usage
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

RECENT_LIMIT = 50  # jobs per snapshot; more finished in one interval are counted, not listed


class RunningJob(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def language(self) -> str: ...

    @property
    def started(self) -> float:
        """On the Trio clock."""
        ...


class PoolContainer(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def short_id(self) -> str: ...

    @property
    def state(self) -> str:
        """warming, idle, busy or recycling."""
        ...

    @property
    def jobs_served(self) -> int: ...

    @property
    def current(self) -> RunningJob | None: ...

    @property
    def memory_mb(self) -> int: ...


class PoolView(Protocol):
    """The warm pool, as the snapshot shows it (:class:`service.sandbox.pool.Pool`)."""

    @property
    def containers(self) -> Sequence[PoolContainer]: ...

    @property
    def docker_ok(self) -> bool: ...

    @property
    def last_error(self) -> str | None: ...

    @property
    def workers(self) -> int:
        """The warm target: idle containers kept ready beyond the busy ones."""
        ...

    @property
    def starting(self) -> int: ...

    @property
    def replaced(self) -> int: ...

    @property
    def lost_idle(self) -> int: ...

    @property
    def lost_before_job(self) -> int: ...


class QueueView(Protocol):
    """The job queue and its workers (:class:`service.scheduling.dispatch.Dispatcher`)."""

    @property
    def queued(self) -> int: ...

    @property
    def capacity(self) -> int: ...

    @property
    def in_flight(self) -> int: ...


class BusHealth(Protocol):
    """The link to NATS (:class:`service.intake.NatsIntake`)."""

    @property
    def connected(self) -> bool: ...

    @property
    def reconnects(self) -> int: ...

    @property
    def server_restarts(self) -> int: ...


def container_view(container: PoolContainer, usage: Usage | None, now: float) -> Container:
    """One container as listed; ``now`` on the Trio clock, for the current job's elapsed time."""
    job = None
    if container.current is not None:
        job = ContainerJob(
            id=container.current.id,
            language=container.current.language,
            elapsed_ms=round((now - container.current.started) * 1000, 1),
        )
    usage = usage or Usage()
    return Container(
        id=container.short_id,
        state=ContainerState(container.state),
        jobs=container.jobs_served,
        job=job,
        cpu_percent=usage.cpu_percent,
        memory_bytes=usage.memory_bytes,
        memory_limit_bytes=usage.memory_limit_bytes or container.memory_mb << 20,
    )


class Snapshotter:
    """Builds snapshots; lists each finished job in exactly one of them.

    Args:
        instance_id: this instance's id.
        concurrency: jobs at once, the most containers at once.
        pool, queue, bus, metrics: the parts of the engine the snapshot shows.
        state: the engine's state now.
        clock: the Trio clock (current jobs' elapsed times).
        loop_lag: the event loop's longest stall (ms) since the previous call.
        compile_cache: the compile cache's figures now.
    """

    def __init__(
        self,
        *,
        instance_id: str,
        concurrency: int,
        pool: PoolView,
        queue: QueueView,
        bus: BusHealth,
        metrics: Metrics,
        state: Callable[[], EngineState],
        clock: Callable[[], float] = trio.current_time,
        loop_lag: Callable[[], float] = lambda: 0.0,
        version: str = __version__,
        compile_cache: Callable[[], CompileCache] | None = None,
    ) -> None:
        self._compile_cache = compile_cache
        self._instance_id = instance_id
        self._concurrency = concurrency
        self._pool = pool
        self._queue = queue
        self._bus = bus
        self._metrics = metrics
        self._state = state
        self._clock = clock
        self._loop_lag = loop_lag
        self._version = version
        self._last_reported: Finished | None = None

    def __call__(self, usage: Mapping[str, Usage], now: float | None = None) -> Snapshot:
        """The snapshot at wall-clock time ``now``, with the containers' sampled ``usage``."""
        now = time.time() if now is None else now
        metrics = self._metrics
        pool = self._pool
        clock = self._clock()
        latency = metrics.latency_percentiles()
        return Snapshot(
            instance=self._instance_id,
            version=self._version,
            uptime_s=round(now - metrics.started, 1),
            state=self._state(),
            docker=Docker(ok=pool.docker_ok, error=pool.last_error),
            nats=Nats(
                connected=self._bus.connected,
                reconnects=self._bus.reconnects,
                server_restarts=self._bus.server_restarts,
            ),
            queue=Queue(depth=self._queue.queued, capacity=self._queue.capacity),
            workers=Workers(busy=self._queue.in_flight, total=self._concurrency),
            pool=Pool(
                size=pool.workers,
                max=self._concurrency,
                starting=pool.starting,
                replaced=pool.replaced,
                lost_idle=pool.lost_idle,
                lost_before_job=pool.lost_before_job,
            ),
            compile_cache=self._compile_cache() if self._compile_cache else CompileCache(),
            containers=tuple(container_view(c, usage.get(c.id), clock) for c in pool.containers),
            counters=Counters(
                accepted=metrics.accepted,
                rejected=metrics.rejected,
                by_status={Status(k): v for k, v in metrics.by_status.items()},
                by_language=dict(metrics.by_language),
            ),
            throughput=Throughput(
                last_10s=round(metrics.throughput(10, now), 3),
                last_60s=round(metrics.throughput(60, now), 3),
            ),
            latency_ms=Latency(
                p50=_round(latency["p50"]), p95=_round(latency["p95"]), p99=_round(latency["p99"])
            ),
            recent=tuple(
                RecentJob(
                    id=f.id,
                    language=f.language,
                    status=Status(f.status),
                    total_ms=round(f.total_ms, 2),
                    at=f.at,
                )
                for f in self._unreported()[-RECENT_LIMIT:]
            ),
            loop_lag_ms=self._loop_lag(),
        )

    def _unreported(self) -> list[Finished]:
        """The jobs finished since the previous snapshot, oldest first.

        Followed by identity rather than by time, so that a step of the wall clock
        neither repeats nor skips a job.
        """
        recent = self._metrics.recent
        new: list[Finished] = []
        for finished in reversed(recent):
            if finished is self._last_reported:
                break
            new.append(finished)
        if recent:
            self._last_reported = recent[-1]
        new.reverse()
        return new


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
