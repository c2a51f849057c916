"""Running one request on a pool container, with a host-side deadline.

The agent enforces each step's limits itself, but the host never trusts it to:
the whole exchange runs inside a cancel scope whose deadline is the job's limits
plus a grace period. If no result arrives by then, the container is killed and
replaced and the reply says ``timeout``.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import trio

from docker_api import DockerClient, DockerError
from service.config import Settings
from service.errors import AgentError, AgentTimeout, PoolUnavailable
from service.jobs.outcome import StepResult, compile_failure, compiled_ok, run_reply
from service.languages import Language
from service.requests.validate import ExecuteRequest, Reply, Status, refusal
from service.sandbox.container import CurrentJob, WorkerContainer
from service.sandbox.pool import Pool

log = logging.getLogger(__name__)

ACQUIRE_TIMEOUT_S = 60.0
CLEANUP_TIMEOUT_S = 10.0


class _Answered(Exception):
    """Internal: the reply went out early; nothing more to send."""


def run_step(request: ExecuteRequest, settings: Settings, stdin: bytes) -> dict[str, Any]:
    """The agent's RUN step for a request with ``stdin``."""
    language = request.language
    return {
        "argv": [*language.run_argv, *request.args],
        "env": language.run_environment(),
        "stdin": base64.b64encode(stdin).decode(),
        "timeout_ms": request.timeout_ms,
        "output_limit": request.output_limit,
        "file_size_limit": settings.file_size_limit,
    }


def agent_job(
    request: ExecuteRequest, settings: Settings, *, compile: bool = True, runs: bool = True
) -> dict[str, Any]:
    """The agent's ``job`` message: files, the compile step, and the run (or not).

    Without the run, the build is kept for ``run`` messages (:func:`agent_run`).
    """
    language = request.language
    return {
        "type": "job",
        "id": request.id,
        "files": {language.source_file: base64.b64encode(request.code).decode()},
        "compile": compile_step(language, settings) if compile else None,
        "runs": [run_step(request, settings, request.stdin)] if runs else [],
        "finish": runs,
        # Answer as soon as the run is over; report the cleanup in a second message.
        "early_result": runs,
    }


def agent_run(request: ExecuteRequest, run: dict[str, Any], *, finish: bool) -> dict[str, Any]:
    """A ``run`` message against the build a ``job`` message kept."""
    return {
        "type": "run",
        "id": request.id,
        "runs": [run],
        "finish": finish,
        "early_result": finish,
    }


def compile_step(language: Language, settings: Settings) -> dict[str, Any] | None:
    if language.compile_argv is None:
        return None
    return {
        "argv": list(language.compile_argv),
        "env": language.compile_environment(),
        "timeout_ms": settings.compile_timeout_ms,
        "output_limit": settings.compile_output_limit,
        "file_size_limit": max(settings.file_size_limit, 64 << 20),
    }


def deadline_s(request: ExecuteRequest, settings: Settings) -> float:
    """Host-side deadline of a job message that compiles (when needed) and runs once."""
    compile_ms = settings.compile_timeout_ms if request.language.compiled else 0
    return (compile_ms + request.timeout_ms + settings.grace_ms) / 1000


def run_deadline_s(request: ExecuteRequest, settings: Settings) -> float:
    """Host-side deadline of one run against a kept build."""
    return (request.timeout_ms + settings.grace_ms) / 1000


def compile_deadline_s(settings: Settings) -> float:
    """Host-side deadline of a job message that only compiles."""
    return (settings.compile_timeout_ms + settings.grace_ms) / 1000


class Lease:
    """A container borrowed from the pool for one request; returned by :meth:`Executor.lease`."""

    def __init__(self, container: WorkerContainer) -> None:
        self.container = container
        self.reusable = False


class Executor:
    """Runs requests on the pool's containers."""

    def __init__(self, docker: DockerClient, pool: Pool, settings: Settings) -> None:
        self._docker = docker
        self._pool = pool
        self._settings = settings

    @contextlib.asynccontextmanager
    async def lease(self, request: ExecuteRequest) -> AsyncIterator[Lease]:
        """Borrow a container for ``request``; it goes back (or is replaced) on exit.

        Raises:
            PoolUnavailable: no container became available within the acquire timeout.
        """
        container: WorkerContainer | None = None
        with trio.move_on_after(ACQUIRE_TIMEOUT_S):
            container = await self._pool.acquire()
        if container is None:
            raise PoolUnavailable(self._pool.last_error or "no worker container became available")
        container.current = CurrentJob(request.id, request.language.name, trio.current_time())
        lease = Lease(container)
        try:
            await self._fit_memory(container, request.memory_mb)
            yield lease
        finally:
            self._pool.release(container, reusable=lease.reusable)

    async def exchange(
        self,
        container: WorkerContainer,
        message: dict[str, Any],
        limit_s: float,
        expect: str = "result",
    ) -> dict[str, Any]:
        """Send one message to the agent and wait, at most ``limit_s``, for its answer.

        Raises:
            AgentTimeout: nothing came back in time; the container has been killed.
            AgentError: the agent went away or reported an internal error.
        """
        with trio.move_on_after(limit_s) as scope:
            raw = await container.link.request(message, expect)
        if scope.cancelled_caught:
            await self.kill(container)
            raise AgentTimeout(container.id, f"no answer within {limit_s:.1f} s")
        if raw.get("error"):
            raise AgentError(container.id, f"agent error: {raw['error']}")
        return raw

    async def execute(self, request: ExecuteRequest) -> Reply:
        """Run a request and return its reply (after the container is clean again)."""
        replies: list[Reply] = []
        await self.run(request, replies.append)
        return replies[0]

    async def run(self, request: ExecuteRequest, respond: Callable[[Reply], None]) -> None:
        """Run a request; ``respond`` gets its reply as soon as the program's result is in.

        The call returns once the agent has cleaned the container up (or the
        container was written off). Never raises for a job's misdeeds. On
        cancellation (shutdown) the container is killed and replaced.
        """
        try:
            respond(await self._run(request, respond))
        except _Answered:
            pass

    async def _run(self, request: ExecuteRequest, respond: Callable[[Reply], None]) -> Reply:
        started = trio.current_time()
        try:
            async with self.lease(request) as lease:
                try:
                    raw = await self._exchange_job(lease.container, request)
                except AgentTimeout:
                    raise
                except AgentError as exc:
                    if await self._oom_killed(lease.container):
                        # The whole container ran out of memory and took the agent
                        # with it: still the job's doing.
                        log.warning(
                            "job %s: container %s was OOM-killed",
                            request.id,
                            lease.container.short_id,
                        )
                        return refusal(
                            request.id,
                            request.language.name,
                            Status.MEMORY_LIMIT,
                            f"memory limit exceeded ({request.memory_mb} MB); "
                            "the sandbox was replaced",
                        )
                    await self.kill(lease.container)
                    raise exc from None
                except BaseException:
                    await self.kill(lease.container)
                    raise
                reply, lease.reusable = self._reply_from(request, raw)
                if raw.get("clean") is None:
                    # The agent answers before it cleans up: reply now, then wait
                    # for its word that the container is clean.
                    respond(reply)
                    lease.reusable = lease.reusable and await self._cleaned(lease.container)
                    raise _Answered
                return reply
        except AgentTimeout as exc:
            log.warning("job %s: %s; container replaced", request.id, exc)
            elapsed_ms = (trio.current_time() - started) * 1000
            return Reply(
                id=request.id,
                language=request.language.name,
                success=False,
                status=Status.TIMEOUT,
                error=f"time limit exceeded ({request.timeout_ms} ms); the sandbox was replaced",
                execution_time_ms=round(elapsed_ms, 3),
            )
        except AgentError as exc:
            log.warning("job %s lost its container: %s", request.id, exc)
            return internal(request, "the sandbox failed while running the job")
        except PoolUnavailable as exc:
            return internal(request, str(exc))
        except DockerError as exc:
            log.warning("job %s: Docker failed: %s", request.id, exc)
            return internal(request, "the sandbox could not be prepared")

    async def _exchange_job(
        self, container: WorkerContainer, request: ExecuteRequest
    ) -> dict[str, Any]:
        if not (request.language.compiled and self.boosts_compile):
            message = agent_job(request, self._settings)
            return await self.exchange(container, message, deadline_s(request, self._settings))
        prepared = await self.prepare(container, request)
        compile_raw = prepared.get("compile")
        if compile_raw is not None and not compiled_ok(StepResult.from_agent(compile_raw)):
            return prepared  # the agent wiped the failed build already
        run = agent_run(request, run_step(request, self._settings, request.stdin), finish=True)
        raw = await self.exchange(container, run, run_deadline_s(request, self._settings))
        raw["compile"] = compile_raw
        return raw

    @property
    def boosts_compile(self) -> bool:
        return self._settings.compile_cpus != self._settings.cpus

    async def prepare(self, container: WorkerContainer, request: ExecuteRequest) -> dict[str, Any]:
        """Write the source and compile it, keeping the build for ``run`` messages.

        The compile step gets ``compile_cpus`` (compilers use several threads);
        the container is back at ``cpus`` before any run.

        Raises:
            AgentTimeout, AgentError: as :meth:`exchange`.
        """
        message = agent_job(request, self._settings, runs=False)
        limit = compile_deadline_s(self._settings)
        if not (request.language.compiled and self.boosts_compile):
            return await self.exchange(container, message, limit)
        await self._set_cpus(container, self._settings.compile_cpus)
        try:
            return await self.exchange(container, message, limit)
        finally:
            with trio.CancelScope(shield=True):
                await self._set_cpus(container, self._settings.cpus)

    async def _set_cpus(self, container: WorkerContainer, cpus: float) -> None:
        period_us = self._settings.cpu_period_ms * 1000
        try:
            await self._docker.containers.update(
                container.id, {"CpuPeriod": period_us, "CpuQuota": int(period_us * cpus)}
            )
        except DockerError as exc:
            # A container whose CPU share is unknown is not handed out again.
            log.warning("could not set %s CPUs on %s: %s", cpus, container.short_id, exc)
            container.dead = True

    async def _oom_killed(self, container: WorkerContainer) -> bool:
        container.dead = True
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            try:
                info = await self._docker.containers.inspect(container.id)
            except DockerError:
                return False
            state = info.get("State") or {}
            if state.get("Running"):
                return False  # the stream broke, not the container
            return bool(state.get("OOMKilled"))
        return False

    async def _cleaned(self, container: WorkerContainer) -> bool:
        with trio.move_on_after(CLEANUP_TIMEOUT_S):
            try:
                message = await container.link.receive_type("cleaned")
            except AgentError as exc:
                log.warning("container %s: %s", container.short_id, exc)
                return False
            return bool(message.get("clean"))
        log.warning("container %s did not finish its cleanup in time", container.short_id)
        await self.kill(container)
        return False

    def _reply_from(self, request: ExecuteRequest, raw: dict[str, Any]) -> tuple[Reply, bool]:
        clean = raw.get("clean") is not False
        compile_raw = raw.get("compile")
        compile = StepResult.from_agent(compile_raw) if compile_raw else None
        if compile is not None and not compiled_ok(compile):
            return compile_failure(request, compile), clean
        runs = raw.get("runs") or []
        if not runs:
            return internal(request, "the sandbox returned no run result"), False
        run = StepResult.from_agent(runs[0])
        return run_reply(request, run, compile), clean

    async def _fit_memory(self, container: WorkerContainer, memory_mb: int) -> None:
        # The container's cgroup is the memory limit; a request asking for less
        # gets it lowered for its run (and raised again by the next request).
        if memory_mb == container.memory_mb:
            return
        size = memory_mb << 20
        await self._docker.containers.update(container.id, {"Memory": size, "MemorySwap": size})
        container.memory_mb = memory_mb

    async def kill(self, container: WorkerContainer) -> None:
        """Kill a container at once (shielded); the pool replaces it on release."""
        container.dead = True
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            try:
                await self._docker.containers.kill(container.id)
            except DockerError:
                pass


def internal(request: ExecuteRequest, reason: str) -> Reply:
    return refusal(request.id, request.language.name, Status.INTERNAL_ERROR, reason)
