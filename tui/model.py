"""What the dashboard knows about the engine instances, as plain data.

Snapshots arrive as JSON objects on `code-engine.stats.<instance>`; `Snapshot.from_wire`
is the one place that checks them. `Fleet` keeps one `InstanceView` per instance, with
the throughput history and the jobs seen so far, and decides from an injectable clock
whether an instance is live, gone (silent for `gone_after` seconds) or to be dropped
(silent for `drop_after` seconds). Nothing here touches Textual or NATS.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Clock = Callable[[], float]

GONE_AFTER_S = 3.0
DROP_AFTER_S = 30.0
HISTORY_SAMPLES = 120
JOB_HISTORY = 500


class SnapshotError(ValueError):
    """A stats message that is not a snapshot (not an object, or no instance id)."""


class Liveness(StrEnum):
    LIVE = "live"
    GONE = "gone"


@dataclass(frozen=True)
class JobRef:
    id: str
    language: str
    elapsed_ms: float | None


@dataclass(frozen=True)
class ContainerStats:
    id: str
    state: str
    jobs: int
    job: JobRef | None
    cpu_percent: float | None
    memory_bytes: int | None
    memory_limit_bytes: int | None


@dataclass(frozen=True)
class Queue:
    depth: int = 0
    capacity: int = 0


@dataclass(frozen=True)
class Workers:
    busy: int = 0
    total: int = 0


@dataclass(frozen=True)
class Pool:
    size: int = 0
    max: int = 0
    starting: int = 0
    replaced: int = 0


@dataclass(frozen=True)
class Counters:
    accepted: int = 0
    rejected: int = 0
    by_status: Mapping[str, int] = field(default_factory=dict)
    by_language: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Latency:
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class RecentJob:
    id: str
    language: str
    status: str
    total_ms: float | None
    at: float | None


@dataclass(frozen=True)
class Snapshot:
    """One stats message from one engine instance."""

    instance: str
    version: str = "?"
    uptime_s: float = 0.0
    state: str = "running"
    docker_ok: bool = False
    docker_error: str | None = None
    nats_connected: bool = False
    queue: Queue = Queue()
    workers: Workers = Workers()
    pool: Pool = Pool()
    containers: tuple[ContainerStats, ...] = ()
    counters: Counters = Counters()
    throughput_10s: float = 0.0
    throughput_60s: float = 0.0
    latency: Latency = Latency()
    recent: tuple[RecentJob, ...] = ()

    @classmethod
    def from_wire(cls, data: object) -> Snapshot:
        """Build a snapshot from a decoded JSON message.

        Only the instance id is required: a field that is missing or of the wrong type
        takes its default, so that an older or newer engine still shows up.

        Raises:
            SnapshotError: `data` is not an object or has no usable `instance`.
        """
        if not isinstance(data, dict):
            raise SnapshotError(f"expected a JSON object, got {type(data).__name__}")
        instance = data.get("instance")
        if not isinstance(instance, str) or not instance:
            raise SnapshotError("snapshot without an instance id")
        docker = _obj(data, "docker")
        queue = _obj(data, "queue")
        workers = _obj(data, "workers")
        pool = _obj(data, "pool")
        counters = _obj(data, "counters")
        throughput = _obj(data, "throughput")
        latency = _obj(data, "latency_ms")
        return cls(
            instance=instance,
            version=_str(data, "version", "?"),
            uptime_s=_float(data, "uptime_s") or 0.0,
            state=_str(data, "state", "running"),
            docker_ok=docker.get("ok") is True,
            docker_error=_str_or_none(docker, "error"),
            nats_connected=_obj(data, "nats").get("connected") is True,
            queue=Queue(_int(queue, "depth"), _int(queue, "capacity")),
            workers=Workers(_int(workers, "busy"), _int(workers, "total")),
            pool=Pool(
                _int(pool, "size"),
                _int(pool, "max"),
                _int(pool, "starting"),
                _int(pool, "replaced"),
            ),
            containers=tuple(_container(c) for c in _objs(data, "containers")),
            counters=Counters(
                accepted=_int(counters, "accepted"),
                rejected=_int(counters, "rejected"),
                by_status=_int_map(counters, "by_status"),
                by_language=_int_map(counters, "by_language"),
            ),
            throughput_10s=_float(throughput, "10s") or 0.0,
            throughput_60s=_float(throughput, "60s") or 0.0,
            latency=Latency(_float(latency, "p50"), _float(latency, "p95"), _float(latency, "p99")),
            recent=tuple(_recent(r) for r in _objs(data, "recent")),
        )


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _objs(data: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return (item for item in value if isinstance(item, dict))


def _str(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else default


def _str_or_none(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    # bool is an int to Python, but true is no number of milliseconds.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _int_or_none(data: Mapping[str, Any], key: str) -> int | None:
    value = _float(data, key)
    return None if value is None else int(value)


def _int(data: Mapping[str, Any], key: str) -> int:
    return _int_or_none(data, key) or 0


def _int_map(data: Mapping[str, Any], key: str) -> dict[str, int]:
    return {name: _int(_obj(data, key), name) for name in _obj(data, key)}


def _container(data: Mapping[str, Any]) -> ContainerStats:
    job = data.get("job")
    return ContainerStats(
        id=_str(data, "id", "?"),
        state=_str(data, "state", "?"),
        jobs=_int(data, "jobs"),
        job=(
            JobRef(_str(job, "id", "?"), _str(job, "language", "?"), _float(job, "elapsed_ms"))
            if isinstance(job, dict)
            else None
        ),
        cpu_percent=_float(data, "cpu_percent"),
        memory_bytes=_int_or_none(data, "memory_bytes"),
        memory_limit_bytes=_int_or_none(data, "memory_limit_bytes"),
    )


def _recent(data: Mapping[str, Any]) -> RecentJob:
    return RecentJob(
        id=_str(data, "id", "?"),
        language=_str(data, "language", "?"),
        status=_str(data, "status", "?"),
        total_ms=_float(data, "total_ms"),
        at=_float(data, "at"),
    )


@dataclass(frozen=True)
class AdminReply:
    ok: bool
    state: str | None
    error: str | None

    @classmethod
    def from_wire(cls, data: object) -> AdminReply:
        if not isinstance(data, dict):
            return cls(ok=False, state=None, error="malformed reply")
        return cls(
            ok=data.get("ok") is True,
            state=_str_or_none(data, "state"),
            error=_str_or_none(data, "error"),
        )


@dataclass(frozen=True)
class InstanceState:
    """What the widgets show of one instance at one moment."""

    snapshot: Snapshot
    liveness: Liveness
    silent_s: float
    throughput: tuple[float, ...]

    @property
    def id(self) -> str:
        return self.snapshot.instance

    @property
    def gone(self) -> bool:
        return self.liveness is Liveness.GONE


class InstanceView:
    """Everything seen from one instance: its latest snapshot and some history."""

    def __init__(self, snapshot: Snapshot, now: float, history: int = HISTORY_SAMPLES) -> None:
        self.snapshot = snapshot
        self.last_seen = now
        self.throughput: deque[float] = deque(maxlen=history)
        self.jobs: deque[RecentJob] = deque(maxlen=JOB_HISTORY)
        self._record(snapshot)

    @property
    def id(self) -> str:
        return self.snapshot.instance

    def apply(self, snapshot: Snapshot, now: float) -> None:
        self.snapshot = snapshot
        self.last_seen = now
        self._record(snapshot)

    def _record(self, snapshot: Snapshot) -> None:
        self.throughput.append(snapshot.throughput_10s)
        self.jobs.extend(snapshot.recent)

    def set_state(self, state: str) -> None:
        """Take the state an admin reply announced, until the next snapshot says otherwise."""
        self.snapshot = dataclasses.replace(self.snapshot, state=state)

    def silent_for(self, now: float) -> float:
        return max(0.0, now - self.last_seen)

    def state(self, now: float, gone_after: float = GONE_AFTER_S) -> InstanceState:
        silent = self.silent_for(now)
        return InstanceState(
            snapshot=self.snapshot,
            liveness=Liveness.GONE if silent >= gone_after else Liveness.LIVE,
            silent_s=silent,
            throughput=tuple(self.throughput),
        )


class Fleet:
    """All instances heard from, keyed by instance id."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        *,
        gone_after: float = GONE_AFTER_S,
        drop_after: float = DROP_AFTER_S,
        history: int = HISTORY_SAMPLES,
    ) -> None:
        self.clock = clock
        self.gone_after = gone_after
        self.drop_after = drop_after
        self.history = history
        self._views: dict[str, InstanceView] = {}

    def __contains__(self, instance: str) -> bool:
        return instance in self._views

    def __len__(self) -> int:
        return len(self._views)

    def get(self, instance: str) -> InstanceView | None:
        return self._views.get(instance)

    def apply(self, snapshot: Snapshot) -> InstanceView:
        now = self.clock()
        view = self._views.get(snapshot.instance)
        if view is None:
            view = self._views[snapshot.instance] = InstanceView(snapshot, now, self.history)
        else:
            view.apply(snapshot, now)
        return view

    def expire(self) -> list[str]:
        """Forget the instances silent for `drop_after` seconds; return their ids."""
        now = self.clock()
        dropped = [i for i, v in self._views.items() if v.silent_for(now) >= self.drop_after]
        for instance in dropped:
            del self._views[instance]
        return dropped

    def state(self, instance: str) -> InstanceState | None:
        view = self._views.get(instance)
        return None if view is None else view.state(self.clock(), self.gone_after)

    def states(self) -> tuple[InstanceState, ...]:
        now = self.clock()
        return tuple(self._views[i].state(now, self.gone_after) for i in sorted(self._views))


class ManualClock:
    """A clock that moves only when told to: for tests and screenshots."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
