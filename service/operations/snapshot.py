"""What an instance looks like right now: the stats snapshot's content."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import trio

from service import __version__
from service.operations.stats import RECENT_LIMIT, Usage, container_view

if TYPE_CHECKING:
    from service.engine import Engine


class Snapshotter:
    """Builds snapshots; remembers which finished jobs it already reported."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reported_until = 0.0

    def __call__(self, usage: dict[str, Usage], now: float | None = None) -> dict[str, Any]:
        engine = self._engine
        now = time.time() if now is None else now
        metrics = engine.metrics
        pool = engine.pool
        clock = trio.current_time()
        recent = [f for f in metrics.recent if f.at > self._reported_until][-RECENT_LIMIT:]
        self._reported_until = now
        return {
            "instance": engine.settings.instance_id,
            "version": __version__,
            "uptime_s": round(now - metrics.started, 1),
            "state": engine.state,
            "docker": {"ok": pool.docker_ok, "error": pool.last_error},
            "nats": {"connected": engine.intake.connected, "reconnects": engine.intake.reconnects},
            "queue": {"depth": engine.dispatcher.queued, "capacity": engine.dispatcher.capacity},
            "workers": {"busy": engine.dispatcher.in_flight, "total": engine.settings.concurrency},
            "pool": {
                "size": pool.workers,
                "max": engine.settings.concurrency,
                "starting": pool.starting,
                "replaced": pool.replaced,
            },
            "containers": [container_view(c, usage.get(c.id), clock) for c in pool.containers],
            "counters": {
                "accepted": metrics.accepted,
                "rejected": metrics.rejected,
                "by_status": dict(metrics.by_status),
                "by_language": dict(metrics.by_language),
            },
            "throughput": {
                "10s": round(metrics.throughput(10, now), 3),
                "60s": round(metrics.throughput(60, now), 3),
            },
            "latency_ms": {
                k: (round(v, 2) if v is not None else None)
                for k, v in metrics.latency_percentiles().items()
            },
            "recent": [
                {
                    "id": f.id,
                    "language": f.language,
                    "status": f.status,
                    "total_ms": round(f.total_ms, 2),
                    "at": f.at,
                }
                for f in recent
            ],
        }
