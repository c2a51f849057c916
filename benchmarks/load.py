"""Requests to the engine over NATS, timed from the client (asyncio, via engine_client).

End to end is what a client sees: from ``request`` to the decoded reply. The
engine's overhead is that minus the time the program itself took inside the
container (``execution_time_ms`` + ``compile_time_ms``, measured by the agent).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field

from nats.aio.msg import Msg

from benchmarks.programs import Program
from engine_client import EngineClient, EngineClientError

REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class EngineRun:
    ok: bool
    status: str
    e2e_ms: float
    exec_ms: float  # the run step inside the container
    compile_ms: float  # the compile step inside the container (0 when none)

    @property
    def inside_ms(self) -> float:
        return self.exec_ms + self.compile_ms

    @property
    def overhead_ms(self) -> float:
        return self.e2e_ms - self.inside_ms


async def execute_once(client: EngineClient, program: Program) -> EngineRun:
    """One request; a reply that is not ``ok`` with the expected output is ``ok=False``."""
    source = program.source
    if program.compiled:
        # A source of its own each time: compiled every time, as on the host (the
        # compile cache's hits are benchmarks.warm's to measure).
        source += f"\n// {uuid.uuid4()}\n"
    start = time.perf_counter()
    try:
        reply = await client.execute(program.language, source, timeout=REQUEST_TIMEOUT_S)
    except EngineClientError as exc:
        return EngineRun(False, f"client: {exc}", (time.perf_counter() - start) * 1000, 0, 0)
    e2e = (time.perf_counter() - start) * 1000
    ok = reply.get("status") == "ok" and reply.get("output", "").strip() == program.expected
    return EngineRun(
        ok=ok,
        status=str(reply.get("status")),
        e2e_ms=e2e,
        exec_ms=float(reply.get("execution_time_ms") or 0.0),
        compile_ms=float(reply.get("compile_time_ms") or 0.0),
    )


async def sequential(
    client: EngineClient, program: Program, runs: int, *, warmup: int = 2
) -> list[EngineRun]:
    """``runs`` requests one after another, after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        await execute_once(client, program)
    return [await execute_once(client, program) for _ in range(runs)]


@dataclass
class LoadResult:
    concurrency: int
    elapsed_s: float
    runs: list[EngineRun] = field(default_factory=list)

    @property
    def jobs_per_s(self) -> float:
        return len(self.runs) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def failures(self) -> list[EngineRun]:
        return [run for run in self.runs if not run.ok]


async def closed_loop(
    client: EngineClient, program: Program, concurrency: int, total: int
) -> LoadResult:
    """``total`` requests with ``concurrency`` in flight at all times (a closed loop).

    On cancellation the in-flight requests are abandoned; their replies are dropped.
    """
    tickets = itertools.count()
    result = LoadResult(concurrency, 0.0)

    async def worker() -> None:
        while next(tickets) < total:
            result.runs.append(await execute_once(client, program))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - start
    return result


async def nats_echo(client: EngineClient, runs: int) -> list[float]:
    """Request-reply round trips (ms) through the same nats-server to a trivial responder.

    The responder lives on this client's connection, so this is the NATS hop and
    the client library's cost with no engine in the path.
    """
    subject = f"bench.echo.{uuid.uuid4().hex[:8]}"
    payload = b'{"language":"python","code":"cHJpbnQoImhlbGxvLCB3b3JsZCIpCg=="}'

    async def respond(msg: Msg) -> None:
        await msg.respond(b'{"status":"ok","output":"hello, world\\n"}')

    sub = await client.nc.subscribe(subject, cb=respond)
    try:
        await client.nc.flush()
        samples = []
        for index in range(runs + 5):
            start = time.perf_counter()
            await client.nc.request(subject, payload, timeout=10)
            if index >= 5:
                samples.append((time.perf_counter() - start) * 1000)
        return samples
    finally:
        await sub.unsubscribe()
