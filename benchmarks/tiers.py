"""What the gVisor tier costs: the same requests on runc and on runsc, in one run.

    .venv/bin/python -m benchmarks.tiers [--requests 20]

Starts its own nats-server and, one after the other, a daemon on Docker's
default runtime (runc) and one with ``CODE_ENGINE_RUNTIME=runsc`` (gVisor must
be registered with Docker: ``WITH_RUNSC=1 make setup``). Each gets the same
requests one at a time after a warm-up: hello world in every language and a
CPU-bound Python loop (Go and C++ compiled every time: a source of its own per
request). Prints the median end-to-end latency on each tier and
their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.figures import ms, percentile, ratio, table
from benchmarks.services import engine
from engine_client import EngineClient

COMPILED = ("go", "cpp")
PROGRAMS = {
    "python hello": ("python", "print('hello')"),
    "python loop (2e6)": ("python", "s = 0\nfor i in range(2_000_000): s += i\nprint(s)"),
    "javascript hello": ("javascript", "console.log('hello')"),
    "go hello": ("go", 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello") }\n'),
    "cpp hello": ("cpp", '#include <cstdio>\nint main() { std::puts("hello"); }\n'),
}


async def _latencies(url: str, requests: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    async with await EngineClient.connect(url) as client:
        for name, (language, code) in PROGRAMS.items():
            await client.execute(language, code, timeout=60)  # warm up
            samples = []
            for _ in range(requests):
                source = code
                if language in COMPILED:  # compiled every time: no compile cache hits
                    source += f"\n// {uuid.uuid4()}\n"
                started = time.monotonic()
                reply = await client.execute(language, source, timeout=60)
                samples.append((time.monotonic() - started) * 1000)
                if reply["status"] != "ok":
                    raise RuntimeError(f"{name} on this tier: {reply['status']} {reply['error']}")
            found[name] = samples
    return found


def _on(runtime: str, requests: int) -> dict[str, list[float]]:
    env = {"CODE_ENGINE_WORKERS": "2"}
    if runtime:
        env["CODE_ENGINE_RUNTIME"] = runtime
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-tiers-") as tmp,
        engine(Path(tmp), env) as (server, _daemon),
    ):
        return asyncio.run(_latencies(server.url, requests))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tiers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=20, help="requests per program and tier")
    args = parser.parse_args(argv)
    runc = _on("", args.requests)
    runsc = _on("runsc", args.requests)
    rows = []
    for name in PROGRAMS:
        base, gvisor = percentile(runc[name], 50), percentile(runsc[name], 50)
        rows.append([name, ms(base), ms(gvisor), ratio(gvisor, base)])
    print(
        table(
            f"end-to-end p50 over {args.requests} requests, one at a time",
            ["program", "runc", "runsc (gVisor)", "runsc / runc"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
