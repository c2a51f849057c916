"""Does one heavy problems request slow the others? Hello-world latency beside it.

    .venv/bin/python -m benchmarks.stall [--requests 40] [--tests 40] [--rounds 3]

Starts its own nats-server and a daemon with three workers, then in one run:
Python hello worlds one after another on an idle engine (the baseline), then
the same while heavy problems requests are graded, one kind after another:

- ``fitting``: every test writes stdout and stderr up to the problems output
  limit (1 MiB each: within every limit, far more than one NATS message holds,
  so the reply must be cut to fit);
- ``float``: ``compare: float`` of 200,000 numbers a test, every one of which
  differs from the expected answer's as text but not as a number (each token
  is read as a number);
- ``trim``: every test writes 1 MiB of newlines, compared with ``trim``.

Each heavy request is sent ``--rounds`` times in a row while the hello worlds
run. Prints the hello worlds' p50 and p99 in each phase, the heavy requests'
time, and the longest event-loop stall the daemon reported (``loop_lag_ms``)
in each phase: a stall holds every request the daemon has.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
NUMBERS = 200_000
FLOATS = f"import sys\nsys.stdout.write('1\\n' * {NUMBERS})\n"
NEWLINES = "import sys\nsys.stdout.write('\\n' * (1 << 20))\n"


@dataclass(frozen=True)
class Heavy:
    name: str
    what: str  # for the table
    request: dict[str, Any]


def heavy_requests(tests: int) -> list[Heavy]:
    # The expected answer travels in the request: two tests of it fit a NATS message.
    expected = ("1.0000001\n" * NUMBERS).encode()
    return [
        Heavy(
            "fitting",
            f"{tests} tests writing 2 MiB each",
            build_request("python", FLOOD, tests=[{"stdin": ""} for _ in range(tests)]),
        ),
        Heavy(
            "float",
            f"2 tests, compare float of {NUMBERS} numbers each",
            build_request(
                "python",
                FLOATS,
                compare="float",
                tests=[{"expected_output": _b64(expected)} for _ in range(2)],
            ),
        ),
        Heavy(
            "trim",
            f"{tests} tests writing 1 MiB of newlines, compare trim",
            build_request(
                "python", NEWLINES, tests=[{"expected_output": ""} for _ in range(tests)]
            ),
        ),
    ]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


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
class Phase:
    name: str
    latencies: list[float]  # hello-world latencies (ms)
    lag: float  # the longest event-loop stall the daemon reported (ms)
    heavy_s: float = 0.0  # the heavy requests' time, one after another


async def _measure(
    url: str, instance: str, requests: int, heavies: list[Heavy], rounds: int
) -> list[Phase]:
    phases = []
    async with await EngineClient.connect(url) as client:
        lags: list[float] = []

        async def on_stats(msg: Any) -> None:
            lags.append(json.loads(msg.data).get("loop_lag_ms", 0.0))

        await client.nc.subscribe(stats_subject(instance), cb=on_stats)
        await _hellos(client, 5)  # warm up
        lags.clear()
        phases.append(Phase("idle engine", await _hellos(client, requests), max(lags, default=0)))
        for heavy in heavies:
            lags.clear()
            started = time.monotonic()
            graded = asyncio.create_task(_rounds(client, heavy, rounds))
            beside: list[float] = []
            while not graded.done():
                beside += await _hellos(client, 1)
            await graded
            took = time.monotonic() - started
            await asyncio.sleep(1.2)  # the stall's snapshot comes within a second
            phases.append(Phase(f"beside {heavy.name}", beside, max(lags, default=0), took))
    return phases


async def _rounds(client: EngineClient, heavy: Heavy, rounds: int) -> None:
    for _ in range(rounds):
        reply = await client.send(heavy.request, subject=PROBLEMS_SUBJECT, timeout=600)
        if reply["status"] not in ("accepted", "wrong_answer"):
            raise RuntimeError(f"the {heavy.name} request failed: {reply['status']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stall",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=40, help="hello worlds on an idle engine")
    parser.add_argument(
        "--tests", type=int, default=40, help="tests of the fitting and trim problems"
    )
    parser.add_argument("--rounds", type=int, default=3, help="each heavy request, in a row")
    parser.add_argument(
        "--only", action="append", choices=["fitting", "float", "trim"], help="these heavy kinds"
    )
    args = parser.parse_args(argv)
    heavies = [h for h in heavy_requests(args.tests) if not args.only or h.name in args.only]
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-stall-") as tmp,
        engine(Path(tmp), {"CODE_ENGINE_WORKERS": "3"}) as (server, daemon),
    ):
        phases = asyncio.run(
            _measure(server.url, daemon.instance_id, args.requests, heavies, args.rounds)
        )
    what = "; ".join(f"{h.name}: {h.what}" for h in heavies)
    print(
        table(
            f"Python hello world, one at a time, on an idle engine and beside {args.rounds} "
            f"heavy problems requests in a row ({what})",
            ["phase", "requests", "p50", "p99", "longest loop stall", "heavy requests"],
            [
                [
                    phase.name,
                    len(phase.latencies),
                    ms(percentile(phase.latencies, 50)),
                    ms(percentile(phase.latencies, 99)),
                    ms(phase.lag),
                    f"{phase.heavy_s:.1f} s" if phase.heavy_s else "",
                ]
                for phase in phases
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
