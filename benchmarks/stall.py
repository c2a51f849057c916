"""Does one heavy problems request slow the others? Hello-world latency beside it.

    .venv/bin/python -m benchmarks.stall [--requests 40] [--tests 40]

Starts its own nats-server and a daemon with three workers, then in one run:
Python hello worlds one after another on an idle engine (the baseline), then
the same while a problems request is graded whose every test writes stdout and
stderr up to the problems output limit (1 MiB each: within every limit, far
more than one NATS message holds, so its reply must be cut to fit). Prints the
hello worlds' p50 and p99 both ways, the problems request's time, and the
longest event-loop stall the daemon reported (``loop_lag_ms``) in each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.figures import ms, percentile, table
from benchmarks.services import engine
from engine_client import EngineClient, build_request
from wire.subjects import PROBLEMS_SUBJECT, stats_subject

FLOOD = "import sys\nsys.stdout.write('o' * (1 << 20))\nsys.stderr.write('e' * (1 << 20))\n"


async def _hellos(client: EngineClient, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.monotonic()
        reply = await client.execute("python", "print(1)", timeout=60)
        latencies.append((time.monotonic() - started) * 1000)
        if reply["status"] != "ok":
            raise RuntimeError(f"hello world failed: {reply['status']}")
    return latencies


@dataclass
class Found:
    idle: list[float]  # hello-world latencies (ms) on an idle engine
    beside: list[float]  # ... while the problem was graded
    problem_s: float
    idle_lag: float  # the longest event-loop stall the daemon reported (ms)
    busy_lag: float


async def _measure(url: str, instance: str, requests: int, tests: int) -> Found:
    async with await EngineClient.connect(url) as client:
        lags: list[float] = []

        async def on_stats(msg: Any) -> None:
            lags.append(json.loads(msg.data).get("loop_lag_ms", 0.0))

        await client.nc.subscribe(stats_subject(instance), cb=on_stats)
        await _hellos(client, 5)  # warm up
        lags.clear()
        idle = await _hellos(client, requests)
        idle_lag = max(lags, default=0.0)
        lags.clear()
        problem = build_request("python", FLOOD, tests=[{"stdin": ""} for _ in range(tests)])
        started = time.monotonic()
        heavy = asyncio.create_task(client.send(problem, subject=PROBLEMS_SUBJECT, timeout=600))
        beside: list[float] = []
        while not heavy.done():
            beside += await _hellos(client, 1)
        reply = await heavy
        problem_s = time.monotonic() - started
        busy_lag = max(lags, default=0.0)
    if reply["status"] != "accepted":
        raise RuntimeError(f"the problems request failed: {reply['status']}")
    return Found(idle, beside, problem_s, idle_lag, busy_lag)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stall",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=40, help="hello worlds on an idle engine")
    parser.add_argument("--tests", type=int, default=40, help="tests of the heavy problem")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-stall-") as tmp,
        engine(Path(tmp), {"CODE_ENGINE_WORKERS": "3"}) as (server, daemon),
    ):
        found = asyncio.run(_measure(server.url, daemon.instance_id, args.requests, args.tests))
    idle, beside = found.idle, found.beside
    print(
        table(
            f"Python hello world, one at a time; beside: while a {args.tests}-test problem "
            f"writing 2 MiB per test is graded ({found.problem_s:.1f} s)",
            ["phase", "requests", "p50", "p99", "longest loop stall"],
            [
                [
                    "idle engine",
                    len(idle),
                    ms(percentile(idle, 50)),
                    ms(percentile(idle, 99)),
                    ms(found.idle_lag),
                ],
                [
                    "beside the problem",
                    len(beside),
                    ms(percentile(beside, 50)),
                    ms(percentile(beside, 99)),
                    ms(found.busy_lag),
                ],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
