"""The gateway's cost: a Python hello world through each front door against NATS directly,
and requests per second through one gateway.

    .venv/bin/python -m benchmarks.gateway [--runs N] [--seconds S] [--in-flight K]

Starts its own nats-server, daemon and gateway (service/testing, gateway/testing),
then measures, in one run and in turns so that all see the same background load:

* latency a client sees, one request at a time (median, p95, over ``--runs``):
  NATS request-reply (nats-py, what engine_client does), the native API
  (POST /v1/run), Judge0 (POST /submissions?wait=true), Piston
  (POST /api/v2/execute), MCP (a run_code tool call over streamable HTTP with
  the mcp SDK's client, its session opened once);
* requests per second through one gateway, ``--in-flight`` requests at a time
  on the native API, for ``--seconds``.

Plain-text tables on stdout; nothing is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import nats

from gateway.testing.process import GatewayProcess
from gateway.testing.samples import HELLO
from service.testing.harness import Daemon
from service.testing.nats_servers import NatsServer
from wire.subjects import COMPILER_SUBJECT

CODE = HELLO["python"]
CODE_B64 = base64.b64encode(CODE.encode()).decode()


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"unexpected answer from {what}")


async def _timed(call: Callable[[], Awaitable[None]], runs: int) -> list[float]:
    await call()  # warm: connections, the daemon's first Python
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def latencies(nats_url: str, base: str, runs: int) -> dict[str, list[float]]:
    from mcp import Client

    results: dict[str, list[float]] = {}
    nc = await nats.connect(nats_url)
    payload = json.dumps({"language": "python", "code": CODE_B64}).encode()

    async def direct() -> None:
        msg = await nc.request(COMPILER_SUBJECT, payload, timeout=30)
        _check(json.loads(msg.data)["output"] == "hello\n", "NATS")

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def native() -> None:
            reply = await http.post("/v1/run", content=payload)
            _check(reply.json()["output"] == "hello\n", "native")

        async def judge0() -> None:
            reply = await http.post(
                "/submissions?wait=true", json={"language_id": 71, "source_code": CODE}
            )
            _check(reply.json()["stdout"] == "hello\n", "Judge0")

        async def piston() -> None:
            reply = await http.post(
                "/api/v2/execute",
                json={"language": "python", "version": "*", "files": [{"content": CODE}]},
            )
            _check(reply.json()["run"]["stdout"] == "hello\n", "Piston")

        async with Client(f"{base}/mcp") as mcp:

            async def mcp_call() -> None:
                result = await mcp.call_tool("run_code", {"language": "python", "code": CODE})
                _check("hello" in getattr(result.content[0], "text", ""), "MCP")

            doors = [
                ("NATS request-reply (direct)", direct),
                ("native HTTP  POST /v1/run", native),
                ("Judge0  POST /submissions?wait=true", judge0),
                ("Piston  POST /api/v2/execute", piston),
                ("MCP  tools/call run_code (HTTP)", mcp_call),
            ]
            # In turns, a few rounds, so that no door gets a quieter minute than another.
            rounds = 5
            for name, _ in doors:
                results[name] = []
            for _ in range(rounds):
                for name, call in doors:
                    results[name] += await _timed(call, max(1, runs // rounds))
    await nc.close()
    return results


async def throughput(base: str, seconds: float, in_flight: int) -> tuple[int, float, int]:
    done = errors = 0
    deadline = time.perf_counter() + seconds
    body = {"language": "python", "code": CODE_B64}
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=httpx.Limits(max_connections=in_flight)
    ) as http:

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                reply = await http.post("/v1/run", json=body)
                if reply.status_code == 200 and reply.json()["status"] == "ok":
                    done += 1
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
    return done, elapsed, errors


def _row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{name:<38} {statistics.median(times):>8.1f} {p95:>8.1f} {len(times):>5}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="requests per door (default 50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput run length")
    parser.add_argument("--in-flight", type=int, default=8, help="requests at a time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="code-engine-gw-bench-") as tmp:
        directory = Path(tmp)
        with (
            NatsServer(directory) as nats_server,
            Daemon(nats_server.url, directory / "daemon.log") as daemon,
            GatewayProcess(nats_server.url, directory / "gateway.log") as gateway,
        ):
            settings = daemon.settings
            print(
                f"daemon: concurrency {settings.concurrency}, workers {settings.workers}; "
                f"one gateway; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            )
            found = asyncio.run(latencies(nats_server.url, gateway.url, args.runs))
            print(
                f"\nPython hello world, one at a time (ms)\n{'door':<38} {'median':>8} "
                f"{'p95':>8} {'n':>5}"
            )
            for name, times in found.items():
                print(_row(name, times))
            done, elapsed, errors = asyncio.run(
                throughput(gateway.url, args.seconds, args.in_flight)
            )
            print(
                f"\nthroughput through one gateway, native API, {args.in_flight} in flight: "
                f"{done / elapsed:.1f} requests/s ({done} in {elapsed:.1f} s, {errors} not ok)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
