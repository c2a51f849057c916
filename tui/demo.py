"""Believable, repeatable stats for screenshots and demos: three instances, one gone."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

LANGUAGES = ("python", "javascript", "go", "cpp")
STATUSES = ("ok",) * 16 + ("runtime_error", "runtime_error", "compile_error", "timeout")
MIB = 1 << 20
EPOCH = 1_764_196_000.0  # wall-clock time of second 0
SECONDS = 120
GONE_AT = 110


def _container(rng: random.Random, cid: str, state: str, jobs: int, t: int) -> dict[str, Any]:
    job = None
    cpu = rng.uniform(0.1, 1.5)
    memory = rng.randint(9, 14) * MIB
    if state == "busy":
        job = {
            "id": f"j-{rng.randrange(16**6):06x}",
            "language": rng.choice(LANGUAGES),
            "elapsed_ms": round(rng.uniform(5, 900), 1),
        }
        cpu = rng.uniform(35, 98)
        memory = rng.randint(40, 330) * MIB
    elif state == "warming":
        cpu = rng.uniform(5, 25)
        memory = rng.randint(4, 8) * MIB
    return {
        "id": cid,
        "state": state,
        "jobs": jobs + t // 7,
        "job": job,
        "cpu_percent": round(cpu, 1),
        "memory_bytes": memory,
        "memory_limit_bytes": 400 * MIB,
    }


class DemoInstance:
    """One made-up engine: its stats for second `t` of the demo."""

    def __init__(self, name: str, seed: int, states: list[str], state: str = "running") -> None:
        self.name = name
        self.state = state
        self.rng = random.Random(seed)
        self.containers = [
            (f"{self.rng.randrange(16**12):012x}", s, self.rng.randint(20, 90)) for s in states
        ]
        self.counters = {"ok": 0}
        self.languages: dict[str, int] = {}
        self.seq = 0

    def snapshot(self, t: int) -> dict[str, Any]:
        rng = self.rng
        rate = (
            0.0 if self.state == "paused" else 2.4 + 1.8 * math.sin(t / 14) + rng.uniform(-0.4, 0.4)
        )
        recent = []
        for _ in range(max(0, round(rate + rng.uniform(-0.5, 0.5)))):
            self.seq += 1
            language = rng.choice(LANGUAGES)
            status = rng.choice(STATUSES)
            self.counters[status] = self.counters.get(status, 0) + 1
            self.languages[language] = self.languages.get(language, 0) + 1
            recent.append(
                {
                    "id": f"j-{self.seq:05d}",
                    "language": language,
                    "status": status,
                    "total_ms": round(
                        rng.lognormvariate(3.4, 0.7) + (900 if status == "timeout" else 0), 1
                    ),
                    "at": EPOCH + t - rng.random(),
                }
            )
        busy = sum(s == "busy" for _, s, _ in self.containers)
        done = sum(self.counters.values())
        return {
            "instance": self.name,
            "version": "0.1.0",
            "uptime_s": 5400.0 + t,
            "state": self.state,
            "docker": {"ok": True, "error": None},
            "nats": {"connected": True},
            "queue": {"depth": max(0, round(rate * 2 - 3)), "capacity": 64},
            "workers": {"busy": busy, "total": len(self.containers)},
            "pool": {
                "size": len(self.containers),
                "max": len(self.containers),
                "starting": 0,
                "replaced": 3 + t // 40,
            },
            "containers": [_container(rng, cid, s, j, t) for cid, s, j in self.containers],
            "counters": {
                "accepted": done + 2,
                "rejected": 1,
                "by_status": dict(self.counters),
                "by_language": dict(self.languages),
            },
            "throughput": {
                "10s": round(max(rate, 0.0), 2),
                "60s": round(2.4 + 0.5 * math.sin(t / 30), 2),
            },
            "latency_ms": {
                "p50": round(28 + rng.uniform(-3, 3), 1),
                "p95": round(96 + rng.uniform(-9, 9), 1),
                "p99": round(240 + rng.uniform(-20, 20), 1),
            },
            "recent": recent,
        }


def demo_feed(
    seconds: int = SECONDS, gone_at: int = GONE_AT
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Per second of the demo, the snapshots published during it.

    `host-7f3a9c` is busy, `host-b21e04` paused, and `host-0d5c11` stops publishing at
    `gone_at`, so it shows as gone at the end.
    """
    instances = [
        DemoInstance("host-7f3a9c", 1, ["busy", "busy", "idle", "busy", "warming"]),
        DemoInstance("host-b21e04", 2, ["idle", "idle", "idle"], state="paused"),
        DemoInstance("host-0d5c11", 3, ["busy", "idle", "recycling"]),
    ]
    for t in range(seconds):
        yield (
            t,
            [i.snapshot(t) for i in instances if not (i.name == "host-0d5c11" and t >= gone_at)],
        )
