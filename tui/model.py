"""What the dashboard knows about the engine instances, as plain data.

Snapshots arrive as JSON on `code-engine.stats.<instance>`; `decode_snapshot`
(:mod:`wire.stats`) is the one place that checks them, and what the widgets get is
its `Snapshot`, never a dict. `Fleet` keeps one `InstanceView` per instance, with
the throughput history and the jobs seen so far, and decides from an injectable
clock whether an instance is live, gone (silent for `gone_after` seconds) or to be
dropped (silent for `drop_after` seconds). What the screen shows at one moment is
one `View`, the same for every panel. Nothing here touches Textual or NATS.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from wire.admin import EngineState
from wire.errors import SnapshotError
from wire.stats import Container, ContainerState, Counters, RecentJob, Snapshot, decode_snapshot

__all__ = [
    "Container",
    "ContainerState",
    "Counters",
    "Fleet",
    "InstanceState",
    "InstanceView",
    "Link",
    "Liveness",
    "ManualClock",
    "RecentJob",
    "Snapshot",
    "SnapshotError",
    "View",
    "by_state",
    "decode_snapshot",
]

Clock = Callable[[], float]

GONE_AFTER_S = 3.0
DROP_AFTER_S = 30.0
HISTORY_SAMPLES = 120
JOB_HISTORY = 500


class Liveness(StrEnum):
    LIVE = "live"
    GONE = "gone"


def by_state(containers: Iterable[Container]) -> Counter[ContainerState]:
    """How many of `containers` are in each state (every state present, zero or not)."""
    counts = Counter({state: 0 for state in ContainerState})
    counts.update(c.state for c in containers)
    return counts


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
        self.jobs_seen = 0  # all jobs recorded, those no longer kept in `jobs` included
        self._record(snapshot)

    @property
    def id(self) -> str:
        return self.snapshot.instance

    def apply(self, snapshot: Snapshot, now: float) -> None:
        self.snapshot = snapshot
        self.last_seen = now
        self._record(snapshot)

    def _record(self, snapshot: Snapshot) -> None:
        self.throughput.append(snapshot.throughput.last_10s)
        self.jobs.extend(snapshot.recent)
        self.jobs_seen += len(snapshot.recent)

    def set_state(self, state: EngineState) -> None:
        """Take the state an admin reply announced, until the next snapshot says otherwise."""
        self.snapshot = msgspec.structs.replace(self.snapshot, state=state)

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


@dataclass(frozen=True)
class Link:
    """The dashboard's own connection to the message bus, as the source last told it."""

    connected: bool = False
    detail: str = "connecting…"


@dataclass(frozen=True)
class View:
    """Everything the main screen shows at one moment; every panel gets the same one."""

    instances: tuple[InstanceState, ...]  # every instance heard from, by id
    selected: InstanceState | None
    # The selected instance's finished jobs kept so far, oldest first, and how many
    # it has finished since first heard from: a panel that showed `jobs_seen` jobs
    # of it before has the last `jobs_seen - before` of these still to show.
    jobs: tuple[RecentJob, ...]
    jobs_seen: int
    link: Link


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
        return self._states(self.clock())

    def _states(self, now: float) -> tuple[InstanceState, ...]:
        return tuple(self._views[i].state(now, self.gone_after) for i in sorted(self._views))

    def view(self, selected: str | None, link: Link) -> View:
        """What the screen shows, with `selected` as the selected instance while it is known."""
        now = self.clock()
        states = self._states(now)
        shown = None if selected is None else self._views.get(selected)
        if shown is None:
            return View(instances=states, selected=None, jobs=(), jobs_seen=0, link=link)
        return View(
            instances=states,
            selected=shown.state(now, self.gone_after),
            jobs=tuple(shown.jobs),
            jobs_seen=shown.jobs_seen,
            link=link,
        )


class ManualClock:
    """A clock that moves only when told to: for tests and screenshots."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
