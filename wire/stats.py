"""The stats snapshot each instance publishes once a second on ``code-engine.stats.<instance>``.

The JSON, field by field::

    {"instance": "host-1a2b3c", "version": "0.1.0", "uptime_s": 12.3, "state": "running",
     "docker": {"ok": true, "error": null}, "nats": {"connected": true, "reconnects": 0,
     "server_restarts": 0},
     "queue": {"depth": 0, "capacity": 64}, "workers": {"busy": 1, "total": 3},
     "pool": {"size": 2, "max": 3, "starting": 0, "replaced": 4,
              "lost_idle": 1, "lost_before_job": 1},
     "compile_cache": {"hits": 3, "misses": 5, "entries": 4, "bytes": 2400000,
                       "capacity_bytes": 268435456},
     "containers": [{"id": "abc123def456", "state": "busy", "jobs": 12,
                     "job": {"id": "j-1", "language": "python", "elapsed_ms": 120.0},
                     "cpu_percent": 12.5, "memory_bytes": 12345678,
                     "memory_limit_bytes": 419430400}],
     "counters": {"accepted": 10, "rejected": 0, "by_status": {"ok": 9, "timeout": 1},
                  "by_language": {"python": 10}},
     "throughput": {"10s": 1.2, "60s": 0.8},
     "latency_ms": {"p50": 20.1, "p95": 40.0, "p99": null},
     "recent": [{"id": "j-1", "language": "python", "status": "ok", "total_ms": 21.5,
                 "at": 1764196000.1}],
     "loop_lag_ms": 1.2}

Every field but the identities (``instance``, a container's ``id`` and ``state``,
a job's ``id``) has a default, so the snapshot of an engine that lacks a newer
field still decodes; unknown fields are ignored, so a newer engine's does too. A
field of the wrong type is an error: :func:`decode_snapshot` raises
:class:`SnapshotError` naming it.
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from .admin import EngineState
from .decoding import decode
from .errors import SnapshotError
from .status import Status


class ContainerState(enum.StrEnum):
    WARMING = "warming"
    IDLE = "idle"
    BUSY = "busy"
    RECYCLING = "recycling"


class Docker(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool = False
    error: str | None = None  # the pool's last error warming a container


class Nats(msgspec.Struct, frozen=True, kw_only=True):
    connected: bool = False
    reconnects: int = 0
    server_restarts: int = 0  # the embedded nats-server, restarted after it died


class Queue(msgspec.Struct, frozen=True, kw_only=True):
    depth: int = 0  # accepted jobs waiting for a worker
    capacity: int = 0  # beyond it, requests are answered busy


class Workers(msgspec.Struct, frozen=True, kw_only=True):
    busy: int = 0  # jobs running now
    total: int = 0  # the instance's concurrency


class Pool(msgspec.Struct, frozen=True, kw_only=True):
    # The warm target: idle containers kept ready beyond the busy ones (what
    # ``resize`` sets), not the number of containers listed.
    size: int = 0
    max: int = 0  # the most containers at once: the concurrency
    starting: int = 0  # being created, not listed yet
    replaced: int = 0  # retired since start-up
    lost_idle: int = 0  # idle containers that died (their stream ended), replaced at once
    # Jobs whose container was found dead before their code started; each ran
    # again on a fresh container (a bounded number of times).
    lost_before_job: int = 0


class CompileCache(msgspec.Struct, frozen=True, kw_only=True):
    """Compiled programs reused by identical requests (service/sandbox/compile_cache.py)."""

    hits: int = 0  # compiled requests that ran a kept program
    misses: int = 0  # compiled requests that compiled
    entries: int = 0
    bytes: int = 0
    capacity_bytes: int = 0  # 0: the cache is off


class ContainerJob(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    language: str = ""
    elapsed_ms: float = 0.0


class Container(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # the short id (12 hex digits)
    state: ContainerState
    jobs: int = 0  # jobs served
    job: ContainerJob | None = None
    # From Docker's stats: both None until the first sample of this container,
    # and the CPU share None until the second (it is a difference of two readings).
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None


class Counters(msgspec.Struct, frozen=True, kw_only=True):
    accepted: int = 0
    rejected: int = 0
    by_status: dict[Status, int] = msgspec.field(default_factory=dict)
    by_language: dict[str, int] = msgspec.field(default_factory=dict)


class Throughput(msgspec.Struct, frozen=True, kw_only=True):
    """Jobs finished per second, over the last 10 and 60 seconds."""

    last_10s: float = msgspec.field(default=0.0, name="10s")
    last_60s: float = msgspec.field(default=0.0, name="60s")


class Latency(msgspec.Struct, frozen=True, kw_only=True):
    """Percentiles of the recent jobs' total time (queue wait included), in ms."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class RecentJob(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    language: str
    status: Status
    total_ms: float
    at: float  # wall-clock time it finished (seconds since the epoch)


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    instance: Annotated[str, msgspec.Meta(min_length=1)]
    version: str = "?"
    uptime_s: float = 0.0
    state: EngineState = EngineState.RUNNING
    docker: Docker = Docker()
    nats: Nats = Nats()
    queue: Queue = Queue()
    workers: Workers = Workers()
    pool: Pool = Pool()
    compile_cache: CompileCache = CompileCache()
    containers: tuple[Container, ...] = ()
    counters: Counters = Counters()
    throughput: Throughput = Throughput()
    latency_ms: Latency = Latency()
    recent: tuple[RecentJob, ...] = ()  # finished since the previous snapshot, each once
    # The event loop's longest stall since the previous snapshot: a request
    # that holds the loop holds every other request too.
    loop_lag_ms: float = 0.0


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Snapshot)


def encode_snapshot(snapshot: Snapshot) -> bytes:
    return _encoder.encode(snapshot)


def decode_snapshot(payload: bytes) -> Snapshot:
    """Read one stats payload.

    Raises:
        SnapshotError: not JSON, nested too deeply, not an object, no ``instance``,
            or a field of the wrong type (the message names it, e.g. ``at `$.queue.depth```).
    """
    try:
        return decode(_decoder, payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(f"not a stats snapshot: {exc}") from None
