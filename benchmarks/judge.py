"""The judge's costs: a checker against plain comparison, and an interactive problem.

    .venv/bin/python -m benchmarks.judge [--rounds 3]

Starts its own nats-server and daemon, then in one run times, per round: a
50-test C++ a+b problem compared by ``trim``; the same problem graded by a C++
checker and by a Python checker (each compiled once per request, run after
every test as the tool user); and a 20-test interactive guess-the-number
problem (a C++ binary search against a Python interactor, 30 exchanges a
test). Prints the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.figures import table
from benchmarks.services import engine
from engine_client import EngineClient, build_request
from wire.subjects import PROBLEMS_SUBJECT

SUM = """#include <iostream>
int main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }
"""
CPP_CHECKER = r"""#include <cstdio>
int main(int argc, char **argv) {
    long got, want;
    FILE *out = std::fopen(argv[2], "r"), *ans = std::fopen(argv[3], "r");
    if (!out || !ans || std::fscanf(ans, "%ld", &want) != 1) return 3;
    if (std::fscanf(out, "%ld", &got) != 1) return 2;
    return got == want ? 0 : 1;
}
"""
PY_CHECKER = """import sys
got, want = (open(p).read().split() for p in sys.argv[2:4])
sys.exit(0 if got == want else 1)
"""
GUESSER = r"""#include <iostream>
#include <string>
int main() {
    long lo = 1, hi = 1000000000;
    for (;;) {
        long mid = (lo + hi) / 2;
        std::cout << mid << std::endl;
        std::string r;
        if (!(std::cin >> r) || r == "=") return 0;
        if (r == "<") hi = mid - 1; else lo = mid + 1;
    }
}
"""
INTERACTOR = """import sys
secret = int(open(sys.argv[1]).read())
for guesses in range(1, 32):
    guess = int(sys.stdin.readline())
    if guess == secret:
        print("=", flush=True)
        open(sys.argv[2], "w").write(f"{guesses}\\n")
        sys.exit(0)
    print("<" if secret < guess else ">", flush=True)
sys.exit(1)
"""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _tool(language: str, code: str) -> dict[str, str]:
    return {"language": language, "code": _b64(code)}


async def _timed(engine: EngineClient, request: dict[str, Any], tests: int) -> float:
    started = time.monotonic()
    reply = await engine.send(request, subject=PROBLEMS_SUBJECT, timeout=600)
    elapsed = time.monotonic() - started
    if reply["status"] != "accepted" or reply["passed"] != tests:
        raise RuntimeError(f"request failed: {reply['status']} {reply.get('error', '')[:200]}")
    return elapsed


async def _round(engine: EngineClient) -> dict[str, float]:
    sums = [{"stdin": _b64(f"{i} {i}"), "expected_output": _b64(f"{2 * i}\n")} for i in range(50)]
    secrets = [{"stdin": _b64(str(7919 * i * i + 1))} for i in range(20)]
    return {
        "50 tests, compare trim": await _timed(engine, build_request("cpp", SUM, tests=sums), 50),
        "50 tests, C++ checker": await _timed(
            engine, build_request("cpp", SUM, tests=sums, checker=_tool("cpp", CPP_CHECKER)), 50
        ),
        "50 tests, Python checker": await _timed(
            engine, build_request("cpp", SUM, tests=sums, checker=_tool("python", PY_CHECKER)), 50
        ),
        "20 tests, interactive": await _timed(
            engine,
            build_request("cpp", GUESSER, tests=secrets, interactor=_tool("python", INTERACTOR)),
            20,
        ),
    }


async def _measure(url: str, rounds: int) -> list[dict[str, float]]:
    async with await EngineClient.connect(url) as engine:
        await engine.execute("cpp", SUM, stdin="1 1", timeout=120)  # warm up
        return [await _round(engine) for _ in range(rounds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.judge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-judge-") as tmp,
        engine(Path(tmp), {}) as (server, _),
    ):
        results = asyncio.run(_measure(server.url, args.rounds))
    rows = []
    for name in results[0]:
        seconds = statistics.median(r[name] for r in results)
        tests = int(name.split()[0])
        rows.append([name, f"{seconds:.2f}", f"{seconds / tests * 1000:.1f}"])
    print(
        table(
            f"C++ solutions, median of {args.rounds} rounds",
            ["request", "seconds", "per test ms"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
