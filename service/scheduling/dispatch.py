"""The bounded job queue and the worker tasks that drain it.

``submit`` never waits: a full queue is answered ``busy`` at once by the caller
(:mod:`service.scheduling.admission`).
``concurrency`` worker tasks each take one job at a time and run it. The execute
function gets a ``respond`` callback and may answer before it returns (the
executor answers as soon as the program's result is in, then waits for the
container's cleanup); a job is answered exactly once, whatever happens.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from wire import Status

from ..jobs.fitting import Outgoing
from ..jobs.refusals import refuse
from ..operations.metrics import Metrics
from ..requests import ExecuteRequest

log = logging.getLogger(__name__)

Respond = Callable[[Outgoing], None]
Execute = Callable[[ExecuteRequest, Respond], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Job:
    request: ExecuteRequest
    respond: Respond


class Dispatcher:
    def __init__(
        self, execute: Execute, *, concurrency: int, capacity: int, metrics: Metrics | None = None
    ) -> None:
        self._execute = execute
        self._concurrency = concurrency
        self._send, self._receive = trio.open_memory_channel[Job](capacity)
        self.capacity = capacity
        self.metrics = metrics or Metrics()
        self.in_flight = 0
        self._idle = trio.Event()
        self._idle.set()
        self._scope = trio.CancelScope()
        self.stopped = trio.Event()

    @property
    def queued(self) -> int:
        return self._send.statistics().current_buffer_used

    def submit(self, request: ExecuteRequest, respond: Respond) -> bool:
        """Queue a job; False when the queue is full (the caller answers ``busy``)."""
        try:
            self._send.send_nowait(Job(request, respond))
        except trio.WouldBlock:
            self.metrics.rejected += 1
            return False
        self.metrics.accepted += 1
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the worker tasks until cancelled or :meth:`cancel` is called."""
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    for index in range(self._concurrency):
                        nursery.start_soon(self._worker, index)
                    task_status.started()
        finally:
            self.stopped.set()

    def cancel(self) -> None:
        """Cut running jobs short; each is answered ``internal_error`` (shutting down)."""
        self._scope.cancel()

    async def drain(self) -> None:
        """Wait until the queue is empty and no job is running."""
        while self.queued or self.in_flight:
            await self._idle.wait()

    def abandon_queued(self, reason: str) -> int:
        """Answer every queued job with ``internal_error`` (used when shutdown is cut short)."""
        count = 0
        while True:
            try:
                job = self._receive.receive_nowait()
            except trio.WouldBlock:
                return count
            self._finish(job, refuse(job.request, Status.INTERNAL_ERROR, reason))
            count += 1

    async def _worker(self, index: int) -> None:
        async for job in self._receive:
            self.in_flight += 1
            try:
                await self._run(job)
            finally:
                self.in_flight -= 1
            if not self.queued and not self.in_flight:
                self._idle.set()

    async def _run(self, job: Job) -> None:
        answered = False

        def respond(reply: Outgoing) -> None:
            nonlocal answered
            if not answered:
                answered = True
                self._finish(job, reply)

        try:
            await self._execute(job.request, respond)
        except trio.Cancelled:
            # Shutdown cut the job short: the client still gets an answer.
            respond(refuse(job.request, Status.INTERNAL_ERROR, "the engine is shutting down"))
            raise
        except Exception:
            log.exception("job %s failed unexpectedly", job.request.id)
            respond(refuse(job.request, Status.INTERNAL_ERROR, "unexpected engine error"))
        if not answered:
            log.error("job %s finished without a reply", job.request.id)
            respond(refuse(job.request, Status.INTERNAL_ERROR, "unexpected engine error"))

    def _finish(self, job: Job, reply: Outgoing) -> None:
        try:
            job.respond(reply)
        except Exception:
            log.exception("could not send the reply to job %s", reply.id)
