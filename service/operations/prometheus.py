"""The engine's numbers in the Prometheus text format, read at scrape time.

Nothing here counts: :class:`EngineCollector` reads, on each scrape, what the
engine already keeps for its stats snapshot (:class:`Metrics`, the pool, the
dispatcher, the intake) and turns it into metric families of the official
``prometheus_client`` library, so a reply is counted once, in
:meth:`service.scheduling.replies.Replies.send`. The registry is this engine's
own (no process-global state), exported by :func:`exposition`. The list is
docs/reference/metrics.md, generated from this collector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from service.operations.metrics import Metrics
from service.operations.snapshot import BusHealth, PoolView, QueueView
from service.sandbox.pool import RETIRE_REASONS
from wire.admin import EngineState
from wire.stats import CompileCache, ContainerState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PoolCounts(PoolView, Protocol):
    @property
    def replaced_by(self) -> Mapping[str, int]:
        """Retired containers by reason (they add up to ``replaced``)."""
        ...


class EngineCollector(Collector):
    """Every ``code_engine_*`` metric of one instance.

    Args:
        instance_id, version: for ``code_engine_info``.
        concurrency: jobs at once (``code_engine_workers``).
        metrics, pool, queue, bus: the parts of the engine read on each scrape.
        state: the engine's state now.
        compile_cache: the compile cache's figures now.
    """

    def __init__(
        self,
        *,
        instance_id: str,
        version: str,
        concurrency: int,
        metrics: Metrics,
        pool: PoolCounts,
        queue: QueueView,
        bus: BusHealth,
        state: Callable[[], EngineState],
        compile_cache: Callable[[], CompileCache] | None = None,
    ) -> None:
        self._compile_cache = compile_cache
        self._instance_id = instance_id
        self._version = version
        self._concurrency = concurrency
        self._metrics = metrics
        self._pool = pool
        self._queue = queue
        self._bus = bus
        self._state = state

    def collect(self) -> Iterator[Metric]:
        metrics, pool, queue = self._metrics, self._pool, self._queue

        info = GaugeMetricFamily(
            "code_engine_info", "This instance", labels=["instance", "version"]
        )
        info.add_metric([self._instance_id, self._version], 1)
        yield info

        requests = CounterMetricFamily(
            "code_engine_requests",
            "Replies sent, by subject kind and status",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(metrics.by_kind_status.items()):
            requests.add_metric([kind, status], count)
        yield requests

        duration = HistogramMetricFamily(
            "code_engine_request_duration_seconds",
            "Time from a request's arrival to its reply, by subject kind",
            labels=["kind"],
        )
        for kind, histogram in sorted(metrics.durations.items()):
            duration.add_metric([kind], histogram.cumulative(), histogram.total)
        yield duration

        yield _gauge("code_engine_queue_depth", "Accepted jobs waiting for a worker", queue.queued)
        yield _gauge("code_engine_queue_capacity", "Most jobs the queue holds", queue.capacity)
        yield _gauge("code_engine_workers_busy", "Jobs running now", queue.in_flight)
        yield _gauge("code_engine_workers", "Jobs run at once at most", self._concurrency)

        containers = GaugeMetricFamily(
            "code_engine_pool_containers", "Pool containers by state", labels=["state"]
        )
        by_state = {state.value: 0 for state in ContainerState}
        for container in pool.containers:
            by_state[str(container.state)] = by_state.get(str(container.state), 0) + 1
        by_state["warming"] += pool.starting
        for name, count in by_state.items():
            containers.add_metric([name], count)
        yield containers
        yield _gauge(
            "code_engine_pool_warm_target",
            "Idle containers kept ready (the pool size)",
            pool.workers,
        )

        replaced = CounterMetricFamily(
            "code_engine_container_replacements",
            "Containers retired (and replaced as needed), by reason",
            labels=["reason"],
        )
        counts = {reason: 0 for reason in RETIRE_REASONS} | dict(pool.replaced_by)
        for reason, count in counts.items():
            replaced.add_metric([reason], count)
        yield replaced

        if self._compile_cache is not None:
            cache = self._compile_cache()
            lookups = CounterMetricFamily(
                "code_engine_compile_cache_lookups",
                "Compiled-language requests by whether they ran a kept program",
                labels=["result"],
            )
            lookups.add_metric(["hit"], cache.hits)
            lookups.add_metric(["miss"], cache.misses)
            yield lookups
            yield _gauge("code_engine_compile_cache_entries", "Programs kept", cache.entries)
            yield _gauge("code_engine_compile_cache_bytes", "Bytes of programs kept", cache.bytes)

        yield _gauge("code_engine_nats_connected", "1 while connected to NATS", self._bus.connected)
        yield CounterMetricFamily(
            "code_engine_nats_reconnects", "Reconnections to NATS", value=self._bus.reconnects
        )
        yield _gauge("code_engine_docker_reachable", "1 while Docker answers", pool.docker_ok)

        states = GaugeMetricFamily(
            "code_engine_state", "1 for the engine's current state", labels=["state"]
        )
        current = self._state()
        for each in EngineState:
            states.add_metric([each.value], int(each is current))
        yield states


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def registry(collector: Collector | None) -> CollectorRegistry:
    """A registry of the process's own metrics plus, once it exists, the engine's."""
    found = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=found)
    if collector is not None:
        found.register(collector)
    return found


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in the text format (:data:`CONTENT_TYPE`)."""
    return generate_latest(registry)
