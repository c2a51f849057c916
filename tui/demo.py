"""Believable, repeatable stats for screenshots and demos: three instances, one gone.

The snapshots are :mod:`wire.stats` structs, the engine's own type, so the demo
goes through the same encoding and checks as live stats.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

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

LANGUAGES = ("python", "javascript", "go", "cpp")
STATUSES = (Status.OK,) * 16 + (
    Status.RUNTIME_ERROR,
    Status.RUNTIME_ERROR,
    Status.COMPILE_ERROR,
    Status.TIMEOUT,
)
MIB = 1 << 20
EPOCH = 1_764_196_000.0  # wall-clock time of second 0
SECONDS = 120
GONE_AT = 110


def _container(rng: random.Random, cid: str, state: ContainerState, jobs: int, t: int) -> Container:
    job = None
    cpu = rng.uniform(0.1, 1.5)
    memory = rng.randint(9, 14) * MIB
    if state is ContainerState.BUSY:
        job = ContainerJob(
            id=f"j-{rng.randrange(16**6):06x}",
            language=rng.choice(LANGUAGES),
            elapsed_ms=round(rng.uniform(5, 900), 1),
        )
        cpu = rng.uniform(35, 98)
        memory = rng.randint(40, 330) * MIB
    elif state is ContainerState.WARMING:
        cpu = rng.uniform(5, 25)
        memory = rng.randint(4, 8) * MIB
    return Container(
        id=cid,
        state=state,
        jobs=jobs + t // 7,
        job=job,
        cpu_percent=round(cpu, 1),
        memory_bytes=memory,
        memory_limit_bytes=400 * MIB,
    )


class DemoInstance:
    """One made-up engine: its stats for second `t` of the demo.

    It lists one container per entry of `states`, at most that many at once, and
    keeps `warm` of them ready beyond the busy ones.
    """

    def __init__(
        self,
        name: str,
        seed: int,
        states: list[ContainerState],
        *,
        warm: int,
        state: EngineState = EngineState.RUNNING,
    ) -> None:
        self.name = name
        self.state = state
        self.warm = warm
        self.rng = random.Random(seed)
        self.containers = [
            (f"{self.rng.randrange(16**12):012x}", s, self.rng.randint(20, 90)) for s in states
        ]
        self.counters: dict[Status, int] = {Status.OK: 0}
        self.languages: dict[str, int] = {}
        self.seq = 0

    def snapshot(self, t: int) -> Snapshot:
        rng = self.rng
        paused = self.state is EngineState.PAUSED
        rate = 0.0 if paused else 2.4 + 1.8 * math.sin(t / 14) + rng.uniform(-0.4, 0.4)
        recent = []
        for _ in range(max(0, round(rate + rng.uniform(-0.5, 0.5)))):
            self.seq += 1
            language = rng.choice(LANGUAGES)
            status = rng.choice(STATUSES)
            self.counters[status] = self.counters.get(status, 0) + 1
            self.languages[language] = self.languages.get(language, 0) + 1
            total_ms = rng.lognormvariate(3.4, 0.7) + (900 if status is Status.TIMEOUT else 0)
            recent.append(
                RecentJob(
                    id=f"j-{self.seq:05d}",
                    language=language,
                    status=status,
                    total_ms=round(total_ms, 1),
                    at=EPOCH + t - rng.random(),
                )
            )
        busy = sum(s is ContainerState.BUSY for _, s, _ in self.containers)
        done = sum(self.counters.values())
        return Snapshot(
            instance=self.name,
            version="0.1.0",
            uptime_s=5400.0 + t,
            state=self.state,
            docker=Docker(ok=True),
            nats=Nats(connected=True),
            queue=Queue(depth=max(0, round(rate * 2 - 3)), capacity=64),
            workers=Workers(busy=busy, total=len(self.containers)),
            pool=Pool(size=self.warm, max=len(self.containers), starting=0, replaced=3 + t // 40),
            compile_cache=CompileCache(
                hits=done // 3,
                misses=done // 5 + 1,
                entries=done // 5 + 1,
                capacity_bytes=256 << 20,
            ),
            containers=tuple(_container(rng, cid, s, j, t) for cid, s, j in self.containers),
            counters=Counters(
                accepted=done + 2,
                rejected=1,
                by_status=dict(self.counters),
                by_language=dict(self.languages),
            ),
            throughput=Throughput(
                last_10s=round(max(rate, 0.0), 2), last_60s=round(2.4 + 0.5 * math.sin(t / 30), 2)
            ),
            latency_ms=Latency(
                p50=round(28 + rng.uniform(-3, 3), 1),
                p95=round(96 + rng.uniform(-9, 9), 1),
                p99=round(240 + rng.uniform(-20, 20), 1),
            ),
            recent=tuple(recent),
        )


def demo_feed(
    seconds: int = SECONDS, gone_at: int = GONE_AT
) -> Iterator[tuple[int, list[Snapshot]]]:
    """Per second of the demo, the snapshots published during it.

    `host-7f3a9c` is busy, `host-b21e04` paused, and `host-0d5c11` stops publishing at
    `gone_at`, so it shows as gone at the end.
    """
    busy, idle = ContainerState.BUSY, ContainerState.IDLE
    instances = [
        DemoInstance("host-7f3a9c", 1, [busy, busy, idle, busy, ContainerState.WARMING], warm=2),
        DemoInstance("host-b21e04", 2, [idle, idle, idle], warm=3, state=EngineState.PAUSED),
        DemoInstance("host-0d5c11", 3, [busy, idle, ContainerState.RECYCLING], warm=2),
    ]
    for t in range(seconds):
        yield (
            t,
            [i.snapshot(t) for i in instances if not (i.name == "host-0d5c11" and t >= gone_at)],
        )
