"""The agent alone: one worker container driven directly, with no NATS and no daemon.

The container is made by the engine's own code (:func:`service.container.start_container`,
the same hardened configuration and attach stream) and fed the engine's own job
messages (:func:`service.execute.agent_job`), so the round trip measured here is
exactly the daemon's exchange with a warm container. Subtracting it from the end
to end time leaves the daemon's and NATS's share; subtracting the agent's ``ping``
round trip from it leaves the agent's own per-job work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import trio

from benchmarks import BenchError
from benchmarks.procstat import container_cpu_s
from benchmarks.programs import Program
from docker_api import DockerClient
from engine_client import build_request
from service.config import Settings
from service.engine import limits_for
from service.jobs.compiler import agent_job
from service.requests.validate import Kind, parse_request
from service.sandbox.container import WorkerContainer, remove_container, start_container

# Called with the container's id; a context manager around the profiled jobs.
Profiler = Callable[[str], contextlib.AbstractContextManager[object]]


@dataclasses.dataclass
class ProgramProbe:
    job_ms: list[float]  # from sending the job message to its result
    cleanup_ms: list[float]  # from the result to the agent's "cleaned" (0 when none)
    wall_ms: list[float]  # the run step, as the agent measured it
    compile_ms: list[float]
    step_cpu_ms: list[float]  # CPU of the compile and run steps' processes (agent's rusage)
    container_cpu_ms: float | None  # CPU of the whole container per job (cgroup), agent included


@dataclasses.dataclass
class ProbeResult:
    ping_ms: list[float]
    programs: dict[str, ProgramProbe]


def _job_message(program: Program, settings: Settings) -> dict[str, Any]:
    payload = json.dumps(build_request(program.language, program.source)).encode()
    request = parse_request(payload, Kind.COMPILER, limits_for(Kind.COMPILER, settings))
    return agent_job(request, settings)


async def _job(
    container: WorkerContainer, program: Program, settings: Settings
) -> tuple[dict[str, Any], float, float]:
    """One job as the daemon runs it: (result, ms to the result, ms more until cleaned).

    An agent that answers before cleaning up (``clean`` is null in the result)
    sends ``cleaned`` afterwards; like the daemon, wait for it before the next job.
    """
    start = time.perf_counter()
    reply = await container.link.request(_job_message(program, settings), "result")
    answered = time.perf_counter()
    runs = reply.get("runs") or []
    if reply.get("error") or not runs or runs[0].get("exit_code") != 0:
        raise BenchError(f"the agent failed {program.label}: {str(reply)[:300]}")
    if "clean" in reply and reply["clean"] is None:
        await container.link.receive_type("cleaned")
    cleaned = time.perf_counter()
    return reply, (answered - start) * 1000, (cleaned - answered) * 1000


async def _measure(
    settings: Settings,
    programs: list[tuple[Program, int]],
    ping_runs: int,
    profiler: Profiler | None,
    profiled_runs: int,
) -> ProbeResult:
    result = ProbeResult([], {})
    async with DockerClient(socket_path=settings.docker_socket) as docker:
        container = await start_container(docker, settings)
        try:
            for _ in range(ping_runs + 10):
                start = time.perf_counter()
                await container.link.request({"type": "ping"}, "pong")
                result.ping_ms.append((time.perf_counter() - start) * 1000)
            del result.ping_ms[:10]
            for program, runs in programs:
                for _ in range(3):
                    await _job(container, program, settings)
                probe = ProgramProbe([], [], [], [], [], None)
                cpu_before = container_cpu_s(container.id)
                for _ in range(runs):
                    reply, answered_ms, cleanup_ms = await _job(container, program, settings)
                    probe.job_ms.append(answered_ms)
                    probe.cleanup_ms.append(cleanup_ms)
                    run = reply["runs"][0]
                    compiled = reply.get("compile") or {}
                    probe.wall_ms.append(float(run["wall_ms"]))
                    probe.compile_ms.append(float(compiled.get("wall_ms") or 0.0))
                    probe.step_cpu_ms.append(
                        float(run["cpu_ms"]) + float(compiled.get("cpu_ms") or 0.0)
                    )
                cpu_after = container_cpu_s(container.id)
                if cpu_before is not None and cpu_after is not None:
                    probe.container_cpu_ms = (cpu_after - cpu_before) * 1000 / runs
                result.programs[program.label] = probe
            if profiler is not None and programs:
                with profiler(container.id):
                    for _ in range(profiled_runs):
                        await _job(container, programs[0][0], settings)
        finally:
            with trio.CancelScope(shield=True):
                await container.link.aclose()
                await remove_container(docker, container.id)
    return result


def measure(
    settings: Settings,
    instance_id: str,
    programs: list[tuple[Program, int]],
    ping_runs: int,
    *,
    profiler: Profiler | None = None,
    profiled_runs: int = 0,
) -> ProbeResult:
    """Start a worker container like the pool does, time pings and jobs, remove it.

    ``programs`` pairs each program with its number of measured jobs. ``settings``
    are the daemon's (limits, image); the container is labelled with
    ``instance_id`` instead of the daemon's. With a ``profiler``, ``profiled_runs``
    more jobs of the first program run under it.

    Raises:
        BenchError: a job failed.
    """
    probe_settings = dataclasses.replace(settings, instance_id=instance_id)
    return trio.run(_measure, probe_settings, programs, ping_runs, profiler, profiled_runs)
