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
from msgspec import Meta

from .admin import EngineState
from .decoding import decode
from .errors import SnapshotError
from .status import Status


class ContainerState(enum.StrEnum):
    """Where a pool container is in its life."""

    WARMING = "warming"  # being created and started, its agent not ready yet
    IDLE = "idle"  # verified clean, waiting for a job
    BUSY = "busy"  # lent to a request
    RECYCLING = "recycling"  # retired, being removed (the pool warms a replacement)


class Docker(msgspec.Struct, frozen=True, kw_only=True):
    """The Docker daemon, as the pool sees it."""

    ok: Annotated[bool, Meta(description="Docker answers")] = False
    error: Annotated[str | None, Meta(description="the pool's last error warming a container")] = (
        None
    )


class Nats(msgspec.Struct, frozen=True, kw_only=True):
    """The link to NATS."""

    connected: Annotated[bool, Meta(description="connected to a NATS server now")] = False
    reconnects: Annotated[int, Meta(description="reconnections since start-up")] = 0
    server_restarts: Annotated[
        int, Meta(description="restarts of the embedded nats-server after it died")
    ] = 0


class Queue(msgspec.Struct, frozen=True, kw_only=True):
    """The queue of accepted jobs."""

    depth: Annotated[int, Meta(description="accepted jobs waiting for a worker")] = 0
    capacity: Annotated[
        int, Meta(description="the most that may wait; beyond it, requests are answered busy")
    ] = 0


class Workers(msgspec.Struct, frozen=True, kw_only=True):
    """The tasks that run jobs."""

    busy: Annotated[int, Meta(description="jobs running now")] = 0
    total: Annotated[int, Meta(description="the instance's concurrency")] = 0


class Pool(msgspec.Struct, frozen=True, kw_only=True):
    """The warm containers."""

    size: Annotated[
        int,
        Meta(
            description="the warm target: idle containers kept ready beyond the busy ones "
            "(what resize sets), not the number of containers listed"
        ),
    ] = 0
    max: Annotated[int, Meta(description="the most containers at once: the concurrency")] = 0
    starting: Annotated[int, Meta(description="containers being created, not listed yet")] = 0
    replaced: Annotated[int, Meta(description="containers retired since start-up")] = 0
    lost_idle: Annotated[
        int, Meta(description="idle containers that died (their stream ended), replaced at once")
    ] = 0
    lost_before_job: Annotated[
        int,
        Meta(
            description="jobs whose container was found dead before their code started; each "
            "ran again on a fresh container (a bounded number of times)"
        ),
    ] = 0


class CompileCache(msgspec.Struct, frozen=True, kw_only=True):
    """Compiled programs reused by identical requests (service/sandbox/compile_cache.py)."""

    hits: Annotated[int, Meta(description="compiled requests that ran a kept program")] = 0
    misses: Annotated[int, Meta(description="compiled requests that compiled")] = 0
    entries: Annotated[int, Meta(description="programs kept")] = 0
    bytes: Annotated[int, Meta(description="bytes of the programs kept")] = 0
    capacity_bytes: Annotated[int, Meta(description="the cache's size; 0: the cache is off")] = 0


class ContainerJob(msgspec.Struct, frozen=True, kw_only=True):
    """The job a container is running."""

    id: Annotated[str, Meta(description="the request's id")]
    language: Annotated[str, Meta(description="the language's name")] = ""
    elapsed_ms: Annotated[float, Meta(description="time since the job started")] = 0.0


class Container(msgspec.Struct, frozen=True, kw_only=True):
    """One container of the pool.

    ``cpu_percent``, ``memory_bytes`` and ``memory_limit_bytes`` come from Docker's
    stats: null until the first sample of the container, and the CPU share null
    until the second (it is a difference of two readings).
    """

    id: Annotated[str, Meta(description="the short id (12 hex digits)")]
    state: ContainerState
    jobs: Annotated[int, Meta(description="jobs served")] = 0
    job: Annotated[ContainerJob | None, Meta(description="the job running now")] = None
    cpu_percent: Annotated[float | None, Meta(description="CPU use, % of one CPU")] = None
    memory_bytes: Annotated[int | None, Meta(description="memory used, page cache excluded")] = None
    memory_limit_bytes: Annotated[int | None, Meta(description="the container's memory limit")] = (
        None
    )


class Counters(msgspec.Struct, frozen=True, kw_only=True):
    """Counts since start-up."""

    accepted: Annotated[int, Meta(description="requests queued for a worker")] = 0
    rejected: Annotated[
        int, Meta(description="requests the full queue turned away (answered busy)")
    ] = 0
    by_status: Annotated[dict[Status, int], Meta(description="replies by status")] = msgspec.field(
        default_factory=dict
    )
    by_language: Annotated[dict[str, int], Meta(description="replies by language")] = msgspec.field(
        default_factory=dict
    )


class Throughput(msgspec.Struct, frozen=True, kw_only=True):
    """Jobs finished per second, over the last 10 and 60 seconds."""

    last_10s: Annotated[float, Meta(description="over the last 10 seconds")] = msgspec.field(
        default=0.0, name="10s"
    )
    last_60s: Annotated[float, Meta(description="over the last 60 seconds")] = msgspec.field(
        default=0.0, name="60s"
    )


class Latency(msgspec.Struct, frozen=True, kw_only=True):
    """Percentiles of the recent jobs' total time (queue wait included), in ms."""

    p50: Annotated[float | None, Meta(description="the median; null before any job")] = None
    p95: Annotated[float | None, Meta(description="the 95th percentile; null before any job")] = (
        None
    )
    p99: Annotated[float | None, Meta(description="the 99th percentile; null before any job")] = (
        None
    )


class RecentJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job that finished."""

    id: Annotated[str, Meta(description="the request's id")]
    language: Annotated[str, Meta(description="the language's name")]
    status: Status
    total_ms: Annotated[float, Meta(description="arrival to reply, queue wait included")]
    at: Annotated[float, Meta(description="wall-clock time it finished (seconds since the epoch)")]


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What an instance publishes once a second on code-engine.stats.<instance>."""

    instance: Annotated[str, Meta(min_length=1, description="the instance's id")]
    version: Annotated[str, Meta(description="the engine's version")] = "?"
    uptime_s: Annotated[float, Meta(description="seconds since the daemon started")] = 0.0
    state: EngineState = EngineState.RUNNING
    docker: Docker = Docker()
    nats: Nats = Nats()
    queue: Queue = Queue()
    workers: Workers = Workers()
    pool: Pool = Pool()
    compile_cache: CompileCache = CompileCache()
    containers: Annotated[
        tuple[Container, ...], Meta(description="every container of the pool")
    ] = ()
    counters: Counters = Counters()
    throughput: Throughput = Throughput()
    latency_ms: Latency = Latency()
    recent: Annotated[
        tuple[RecentJob, ...], Meta(description="finished since the previous snapshot, each once")
    ] = ()
    # A request that holds the loop holds every other request too.
    loop_lag_ms: Annotated[
        float, Meta(description="the event loop's longest stall since the previous snapshot")
    ] = 0.0


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
