"""The compiler flow: one request, one container, one reply.

An interpreted request is one exchange (source and run). A compiled one is one
too, unless compile steps get a CPU share of their own: then it compiles first
(at ``compile_cpus``) and runs against the kept build (back at ``cpus``). The
reply goes out as soon as the program's result is in; the flow then waits for
the agent's word that the container is clean, which decides whether the
container is reused.

A container found dead before the job's code started (:class:`ContainerLost`)
costs the request nothing: it runs again on a fresh container, up to
``MAX_ATTEMPTS`` containers in all.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from functools import partial

import trio

from agent.protocol import Cleanup, Result, StepResult
from docker_api import DockerError
from wire import Status
from wire.replies import Reply, refusal

from ..errors import AgentError, AgentTimeout, ContainerLost, PoolUnavailable
from ..requests import ExecuteRequest
from ..sandbox.lender import Lender
from ..sandbox.session import Loss, Session, with_compile
from .offload import offload, threads
from .outcome import (
    compile_failure,
    compile_out_of_memory,
    did_not_parse,
    memory_exceeded,
    run_reply,
    time_limit_reason,
)
from .refusals import internal

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


class _LostWhileCompiling(AgentError):
    """The container went away during a compile exchange (not a run)."""


class Executor:
    """Runs compiler requests on the sandbox's containers.

    ``limiter``: the worker threads that build replies of large outputs.
    """

    def __init__(self, lender: Lender, limiter: trio.CapacityLimiter | None = None) -> None:
        self._lender = lender
        self._threads = limiter or threads()

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
        reply = await self._run(request, respond)
        if reply is not None:
            respond(reply)

    async def _run(self, request: ExecuteRequest, respond: Callable[[Reply], None]) -> Reply | None:
        """The reply, or None once ``respond`` has had it (before the cleanup)."""
        started = trio.current_time()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self._attempt(request, respond, started)
            except ContainerLost as exc:
                log.warning("job %s: %s (attempt %d of %d)", request.id, exc, attempt, MAX_ATTEMPTS)
        return internal(
            request, f"the sandbox died before the job could start, {MAX_ATTEMPTS} times"
        )

    async def _attempt(
        self, request: ExecuteRequest, respond: Callable[[Reply], None], started: float
    ) -> Reply | None:
        """One container's try; raises ContainerLost when nothing of the job ran."""
        try:
            async with self._lender.session(request) as session:
                try:
                    result = await self._exchange(session)
                except (AgentTimeout, ContainerLost):
                    raise
                except AgentError as exc:
                    if await session.lost() is Loss.OUT_OF_MEMORY:
                        # The whole container ran out of memory and took the agent
                        # with it: still the job's doing (the compiler's, when it
                        # went during the compile: gVisor loses the whole sandbox).
                        if isinstance(exc, _LostWhileCompiling):
                            return compile_failure(request, compile_out_of_memory())
                        log.warning(
                            "job %s: container %s was OOM-killed",
                            request.id,
                            session.container.short_id,
                        )
                        return refusal(
                            request.id,
                            request.language.name,
                            Status.MEMORY_LIMIT,
                            f"{memory_exceeded(request)}; the sandbox was replaced",
                        )
                    raise exc from None
                except BaseException:
                    await session.kill()
                    raise
                reply, whole = await self._reply_from(request, result)
                if whole and result.runs and request.language.checked_after(result.runs[0]):
                    reply, result = await self._syntax(session, result, reply)
                if result.cleanup is Cleanup.OWED:
                    # The agent answers before it cleans up: reply now, then wait
                    # for its word that the container is clean.
                    respond(reply)
                if whole:  # else the container is not reused (reusable stays False)
                    await session.settle(result)
                return None if result.cleanup is Cleanup.OWED else reply
        except ContainerLost:
            raise
        except AgentTimeout as exc:
            log.warning("job %s: %s; container replaced", request.id, exc)
            elapsed_ms = (trio.current_time() - started) * 1000
            return Reply(
                id=request.id,
                language=request.language.name,
                success=False,
                status=Status.TIMEOUT,
                error=f"{time_limit_reason(request)}; the sandbox was replaced",
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

    @staticmethod
    async def _exchange(session: Session) -> Result:
        if not (session.request.language.compiled and session.compiles_apart):
            return await session.job()
        try:
            prepared = await session.compile()
        except (AgentTimeout, ContainerLost):
            raise  # a container dead before the job runs it again elsewhere
        except AgentError as exc:
            raise _LostWhileCompiling(exc.container_id, exc.reason) from None
        if not prepared.compiled:
            return prepared  # the agent wiped the failed build already
        result = await session.run(session.request.stdin, finish=True)
        return with_compile(result, prepared.compile)

    @staticmethod
    async def _syntax(session: Session, result: Result, reply: Reply) -> tuple[Reply, Result]:
        """After a run that ended as a syntax error does: its source checked (the language's check).

        ``compile_error`` with what the check said when the source does not
        parse; else ``reply`` stands. The check runs once the run's cleanup is
        verified, on the source alone: nothing the run did can reach it. The
        result returned is the one whose cleanup is still owed.
        """
        request = session.request
        if not await session.fit(result):
            return reply, dataclasses.replace(result, cleanup=Cleanup.DIRTY)
        try:
            checked = await session.check(kept=False)
        except AgentError as exc:
            log.warning("job %s: the syntax check failed: %s", request.id, exc)
            return reply, dataclasses.replace(result, cleanup=Cleanup.DIRTY)
        if checked is None:
            return reply, dataclasses.replace(result, cleanup=Cleanup.CLEAN)
        if not checked.runs:
            return reply, checked
        if did_not_parse(checked.runs[0]):
            reply = compile_failure(request, checked.runs[0])
        return reply, checked

    async def _reply_from(self, request: ExecuteRequest, result: Result) -> tuple[Reply, bool]:
        """The reply, and whether the result was whole (a result without its run is not).

        The reply holds the program's output as text: decoding a large one
        happens off the event loop.
        """
        if result.compile is not None and not result.compiled:
            failure = partial(compile_failure, request, result.compile)
            return await offload(_output_size(result.compile), failure, self._threads), True
        if not result.runs:
            return internal(request, "the sandbox returned no run result"), False
        run = result.runs[0]
        reply = partial(run_reply, request, run, result.compile)
        return await offload(_output_size(run), reply, self._threads), True


def _output_size(step: StepResult) -> int:
    return len(step.stdout) + len(step.stderr)
