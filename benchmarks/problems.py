"""Compile once: a 20-test C++ problems request against 20 separate compiler requests.

    .venv/bin/python -m benchmarks.problems [--tests 20] [--rounds 3]

Starts its own nats-server and daemon, then in one run times, per round, one
problems request carrying N test cases (compiled once, every test in a clean
state) and N compiler requests with the same source and inputs, one after the
other. Prints the medians and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.figures import table
from benchmarks.services import engine
from engine_client import EngineClient, build_request
from wire.subjects import PROBLEMS_SUBJECT

SOURCE = """#include <iostream>
int main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }
"""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def _round(engine: EngineClient, tests: int) -> tuple[float, float]:
    cases = [
        {"stdin": _b64(f"{i} {i}"), "expected_output": _b64(f"{2 * i}\n")} for i in range(tests)
    ]
    started = time.monotonic()
    reply = await engine.send(
        build_request("cpp", SOURCE, tests=cases), subject=PROBLEMS_SUBJECT, timeout=300
    )
    problem_s = time.monotonic() - started
    if reply["status"] != "accepted" or reply["passed"] != tests:
        raise RuntimeError(f"problems request failed: {reply['status']}")
    started = time.monotonic()
    for i in range(tests):
        single = await engine.execute("cpp", SOURCE, stdin=f"{i} {i}", timeout=120)
        if single["output"] != f"{2 * i}\n":
            raise RuntimeError(f"compiler request failed: {single['status']}")
    return problem_s, time.monotonic() - started


async def _measure(url: str, tests: int, rounds: int) -> list[tuple[float, float]]:
    async with await EngineClient.connect(url) as engine:
        await engine.execute("cpp", SOURCE, stdin="1 1", timeout=120)  # warm up
        return [await _round(engine, tests) for _ in range(rounds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.problems",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-problems-") as tmp,
        engine(Path(tmp), {}) as (server, _),
    ):
        results = asyncio.run(_measure(server.url, args.tests, args.rounds))
    problem = statistics.median(r[0] for r in results)
    separate = statistics.median(r[1] for r in results)
    print(
        table(
            f"C++ a+b, {args.tests} tests, median of {args.rounds} rounds",
            ["way", "seconds", "per test ms"],
            [
                [
                    f"one problems request ({args.tests} tests)",
                    f"{problem:.2f}",
                    f"{problem / args.tests * 1000:.0f}",
                ],
                [
                    f"{args.tests} compiler requests",
                    f"{separate:.2f}",
                    f"{separate / args.tests * 1000:.0f}",
                ],
                ["ratio", f"{separate / problem:.1f}x", ""],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
