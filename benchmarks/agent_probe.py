"""The agent alone: one worker container driven directly, with no NATS and no daemon.

The container is made by the engine's own code (:func:`service.container.start_container`,
the same hardened configuration and attach stream) and fed the engine's own job
messages (:func:`service.sandbox.job_messages.one_shot_job`), so the round trip measured here is
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

import trio

from agent import protocol
from agent.protocol import Cleanup, Result
from benchmarks import BenchError
from benchmarks.procstat import container_cpu_s
from benchmarks.programs import Program
from docker_api import DockerClient
from engine_client import build_request
from service.config import Settings
from service.requests import limits_for, parse_request
from service.sandbox.container import WorkerContainer, remove_container, start_container
from service.sandbox.job_messages import one_shot_job
from wire import Kind

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


def _job_message(program: Program, settings: Settings) -> protocol.Job:
    payload = json.dumps(build_request(program.language, program.source)).encode()
    request = parse_request(payload, Kind.COMPILER, limits_for(Kind.COMPILER, settings))
    return one_shot_job(request, settings)


async def _job(
    container: WorkerContainer, program: Program, settings: Settings
) -> tuple[Result, float, float]:
    """One job as the daemon runs it: (result, ms to the result, ms more until cleaned).

    An agent that answers before cleaning up (cleanup OWED) sends ``cleaned``
    afterwards; like the daemon, wait for it before the next job.
    """
    start = time.perf_counter()
    reply = await container.link.request(_job_message(program, settings), Result)
    answered = time.perf_counter()
    if reply.error or not reply.runs or reply.runs[0].exit_code != 0:
        raise BenchError(f"the agent failed {program.label}: {str(reply)[:300]}")
    if reply.cleanup is Cleanup.OWED:
        await container.link.receive_type(protocol.Cleaned)
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
                await container.link.request(protocol.Ping(), protocol.Pong)
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
                    run, compiled = reply.runs[0], reply.compile
                    probe.wall_ms.append(run.wall_ms)
                    probe.compile_ms.append(compiled.wall_ms if compiled else 0.0)
                    probe.step_cpu_ms.append(run.cpu_ms + (compiled.cpu_ms if compiled else 0.0))
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
