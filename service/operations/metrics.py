"""Counters and recent latencies of the jobs this instance handled.

Cheap to update on every job (a few dict increments and a deque append); the
stats publisher and the Prometheus endpoint (:mod:`service.operations.prometheus`)
both read them, so every reply is counted once, here.
"""

from __future__ import annotations

import collections
import statistics
import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Finished:
    id: str
    language: str
    status: str
    total_ms: float
    at: float


# Request duration buckets in seconds: a warm Python run is ~15 ms, a C++ compile ~1 s,
# a problem of many tests or a timed-out run several seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Histogram:
    """Cumulative-free bucket counts of durations (Prometheus adds them up on export)."""

    bounds: tuple[float, ...] = DURATION_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        index = next((i for i, bound in enumerate(self.bounds) if seconds <= bound), -1)
        self.counts[index] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus writes them, ``+Inf`` last."""
        pairs, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            pairs.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return pairs


@dataclass
class Metrics:
    started: float = field(default_factory=time.time)
    by_status: collections.Counter[str] = field(default_factory=collections.Counter)
    by_language: collections.Counter[str] = field(default_factory=collections.Counter)
    accepted: int = 0
    rejected: int = 0
    # (kind, status) -> replies, and the durations of each kind's replies.
    by_kind_status: collections.Counter[tuple[str, str]] = field(
        default_factory=collections.Counter
    )
    durations: dict[str, Histogram] = field(default_factory=dict)
    recent: collections.deque[Finished] = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )

    def record(
        self, job_id: str, language: str, status: str, total_ms: float, kind: str = ""
    ) -> None:
        self.by_status[status] += 1
        if kind:
            self.by_kind_status[kind, status] += 1
            self.durations.setdefault(kind, Histogram()).observe(total_ms / 1000)
        if language:
            self.by_language[language] += 1
        self.recent.append(Finished(job_id, language, status, total_ms, time.time()))

    def throughput(self, window_s: float, now: float | None = None) -> float:
        """Jobs finished per second over the last ``window_s`` seconds."""
        now = time.time() if now is None else now
        count = sum(1 for item in reversed(self.recent) if now - item.at <= window_s)
        return count / window_s

    def latency_percentiles(self) -> dict[str, float | None]:
        samples = [item.total_ms for item in self.recent]
        if len(samples) < 2:
            value = samples[0] if samples else None
            return {"p50": value, "p95": value, "p99": value}
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}
