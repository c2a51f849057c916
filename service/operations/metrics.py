"""Counters and recent latencies of the jobs this instance handled.

Cheap to update on every job (a dict increment and a deque append); the stats
publisher reads snapshots of it.
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


@dataclass
class Metrics:
    started: float = field(default_factory=time.time)
    by_status: collections.Counter[str] = field(default_factory=collections.Counter)
    by_language: collections.Counter[str] = field(default_factory=collections.Counter)
    accepted: int = 0
    rejected: int = 0
    recent: collections.deque[Finished] = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )

    def record(self, job_id: str, language: str, status: str, total_ms: float) -> None:
        self.by_status[status] += 1
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
