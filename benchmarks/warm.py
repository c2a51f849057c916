"""Warm starts and the compile cache against the bare host, in one run.

    .venv/bin/python -m benchmarks.warm [--requests 40]

Measures, one request at a time after a warm-up, each program's end-to-end p50
and the agent's run step p50: the bare host process (the baseline, measured
here, right before), the engine with warm starts (the default), and the engine
with ``CODE_ENGINE_WARM_STARTS=0`` (every run a fresh interpreter). For C++ and
Go: every request's source made unique (a compile each time), against the same
source again and again (the compile cache's hits), and the host compiling and
running it. And a ``#include <bits/stdc++.h>`` program, a new source each time,
against the host's ``g++`` with the engine's flags and no precompiled header
(the engine's image has one). Then the interpreted hello worlds arriving at an
idle engine: one request a second, fewer of them (``--idle-requests``).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

from benchmarks import host
from benchmarks.figures import ms, percentile, ratio, table
from benchmarks.programs import BITS_STDCPP, Program, find, timed_run
from benchmarks.services import engine
from engine_client import EngineClient

INTERPRETED = [("python", "hello"), ("python", "cpu"), ("javascript", "hello")]
COMPILED = [("cpp", "hello"), ("go", "hello")]
IDLE = [("python", "hello"), ("javascript", "hello")]
IDLE_GAP_S = 1.0  # between one reply and the next request, in the idle mode
Samples = tuple[list[float], list[float]]  # end to end, run step (ms)


def _programs(*, unique_compiles: bool) -> list[Program]:
    programs = [find(language, kind) for language, kind in INTERPRETED + COMPILED]
    return [*programs, BITS_STDCPP] if unique_compiles else programs


async def _measure(
    url: str, requests: int, programs: list[Program], *, unique_compiles: bool, gap: float
) -> dict[str, Samples]:
    found: dict[str, Samples] = {}
    async with await EngineClient.connect(url) as client:
        for program in programs:
            e2e, run = [], []
            for n in range(requests + 2):
                await asyncio.sleep(gap)
                source = program.source
                if unique_compiles and program.compiled:
                    source += f"\n// {uuid.uuid4()}\n"
                elapsed, reply = await timed_run(client, program, source)
                if n >= 2:  # two warm-ups: the pool's containers settle into their language
                    e2e.append(elapsed)
                    run.append(reply["execution_time_ms"])
            found[program.label] = (e2e, run)
    return found


def _engine(
    env: dict[str, str], requests: int, *, unique: bool, idle: bool = False
) -> dict[str, Samples]:
    programs = [find(*name) for name in IDLE] if idle else _programs(unique_compiles=unique)
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-warm-") as tmp,
        engine(Path(tmp), {"CODE_ENGINE_WORKERS": "2", **env}) as (server, _daemon),
    ):
        return asyncio.run(
            _measure(
                server.url,
                requests,
                programs,
                unique_compiles=unique,
                gap=IDLE_GAP_S if idle else 0.0,
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.warm",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=40, help="requests per program and mode")
    parser.add_argument(
        "--idle-requests", type=int, default=15, help="requests per program, one a second"
    )
    args = parser.parse_args(argv)
    bare = {}
    for program in _programs(unique_compiles=True):
        try:
            bare[program.label] = [r.total_ms for r in host.sequential(program, args.requests)]
        except Exception as exc:  # a toolchain missing on this host (Go, say)
            print(f"host: {program.label}: {exc}")
    warm = _engine({}, args.requests, unique=True)
    cold = _engine({"CODE_ENGINE_WARM_STARTS": "0"}, args.requests, unique=True)
    cached = _engine({}, args.requests, unique=False)
    idle = _engine({}, args.idle_requests, unique=False, idle=True)

    def p50(samples: list[float] | None) -> float | None:
        return percentile(samples, 50) if samples else None

    rows = []
    for language, kind in INTERPRETED:
        label = find(language, kind).label
        base = p50(bare.get(label))
        warm_e2e, cold_e2e = p50(warm[label][0]), p50(cold[label][0])
        warm_run, cold_run = ms(p50(warm[label][1])), ms(p50(cold[label][1]))
        ratios = ratio(warm_e2e, base), ratio(cold_e2e, base)
        rows.append([label, ms(base), ms(warm_e2e), warm_run, ms(cold_e2e), cold_run, *ratios])
    headers = ["program", "host", "warm e2e", "warm run", "cold e2e", "cold run"]
    print(
        table(
            f"warm starts: p50 over {args.requests} requests one at a time (ms)",
            [*headers, "warm/host", "cold/host"],
            rows,
        )
    )
    rows = []
    for language, kind in COMPILED:
        label = find(language, kind).label
        base = p50(bare.get(label))
        new, same = p50(warm[label][0]), p50(cached[label][0])
        rows.append([label, ms(base), ms(new), ms(same), ratio(new, base), ratio(same, base)])
    headers = ["program", "host compile+run", "engine, new source", "engine, same source"]
    print(
        table(
            f"compile cache: p50 over {args.requests} requests one at a time (ms)",
            [*headers, "new/host", "same/host"],
            rows,
        )
    )
    label = BITS_STDCPP.label
    base, engine_e2e = p50(bare.get(label)), p50(warm[label][0])
    print(
        table(
            f"{label}, a new source each time: p50 over {args.requests} requests (ms)",
            ["program", "host g++ compile+run (no PCH)", "engine e2e (PCH)", "engine/host"],
            [[label, ms(base), ms(engine_e2e), ratio(engine_e2e, base)]],
        )
    )
    rows = []
    for language, kind in IDLE:
        label = find(language, kind).label
        base, e2e = p50(bare.get(label)), p50(idle[label][0])
        rows.append([label, ms(base), ms(e2e), ms(p50(idle[label][1])), ratio(e2e, base)])
    print(
        table(
            f"arriving at an idle engine: p50 over {args.idle_requests} requests,"
            f" {IDLE_GAP_S:g} s apart (ms)",
            ["program", "host", "warm e2e", "warm run", "warm/host"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
