"""The engine: intake, queue, workers and pool wired together, plus its live state.

Requests arrive through :class:`NatsIntake`, are validated once
(:mod:`service.protocol`, :mod:`service.problems`), queued in the
:class:`Dispatcher` (``busy`` at once when full), and run by worker tasks on the
:class:`Pool`'s containers (:class:`Executor`, :class:`Judge`). The engine also
answers admin requests, the NATS service API, and publishes a stats snapshot
every second. The process around it (signals, embedded NATS, Docker client) is
:mod:`service.daemon`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import trio

from docker_api import DockerClient
from service import __version__
from service.config import Settings
from service.errors import InvalidRequest
from service.intake import Incoming, NatsIntake, Ticket
from service.jobs.compiler import Executor
from service.jobs.grading import ProblemReply, Verdict, fit_payload, parse_problem
from service.jobs.judge import Judge
from service.operations.admin import ADMIN_PREFIX, Admin
from service.operations.discovery import Discovery, EndpointStats
from service.operations.metrics import Metrics
from service.operations.snapshot import Snapshotter
from service.operations.stats import STATS_PREFIX, StatsPublisher, UsageSampler
from service.requests.validate import (
    ExecuteRequest,
    Kind,
    Limits,
    Reply,
    Status,
    encode_reply,
    parse_request,
    refusal,
    refuse,
    salvage_id,
    salvage_language,
)
from service.sandbox.pool import Pool
from service.scheduling.dispatch import Dispatcher

log = logging.getLogger(__name__)

DEFER_S = 1.0  # a durable request the engine cannot take now is redelivered after this


def limits_for(kind: Kind, settings: Settings) -> Limits:
    if kind is Kind.PROBLEMS:
        return Limits(
            max_code_bytes=settings.problems_max_code_bytes,
            max_stdin_bytes=settings.problems_max_stdin_bytes,
            max_args=settings.max_args,
            max_timeout_ms=settings.timeout_ms,
            max_memory_mb=settings.memory_mb,
            output_limit=settings.problems_output_limit,
        )
    return Limits(
        max_code_bytes=settings.max_code_bytes,
        max_stdin_bytes=settings.max_stdin_bytes,
        max_args=settings.max_args,
        max_timeout_ms=settings.timeout_ms,
        max_memory_mb=settings.memory_mb,
        output_limit=settings.output_limit,
    )


class Engine:
    """Wires intake, dispatcher, executor and pool together."""

    def __init__(self, settings: Settings, docker: DockerClient) -> None:
        self.settings = settings
        self.docker = docker
        self.metrics = Metrics()
        self.pool = Pool(docker, settings)
        self.executor = Executor(docker, self.pool, settings)
        self.judge = Judge(self.executor, settings)
        self.dispatcher = Dispatcher(
            self._execute,
            concurrency=settings.concurrency,
            capacity=settings.queue_capacity,
            metrics=self.metrics,
        )
        self.intake = NatsIntake(settings, self.handle)
        # Durable requests are pulled only while the engine takes work and has room.
        self.intake.has_room = lambda: (
            self.state == "running"
            and self.pool.docker_ok
            and self.dispatcher.queued < self.dispatcher.capacity
        )
        self.state = "running"
        self._limits = {kind: limits_for(kind, settings) for kind in Kind}
        self._subjects = {
            Kind.COMPILER: settings.compiler_subject,
            Kind.PROBLEMS: settings.problems_subject,
        }
        self.discovery = Discovery(
            settings.instance_id,
            __version__,
            {
                kind: EndpointStats(kind.value, subject, settings.queue_group)
                for kind, subject in self._subjects.items()
            },
        )
        for subject in self.discovery.subjects():
            self.intake.serve(subject, self.discovery.handler_for(subject))
        self.intake.serve(f"{ADMIN_PREFIX}.{settings.instance_id}", Admin(self))
        self._stats = StatsPublisher(
            Snapshotter(self),
            lambda: self.pool.containers,
            UsageSampler(docker),
            lambda payload: self.intake.publish(f"{STATS_PREFIX}.{settings.instance_id}", payload),
            interval=settings.health_interval_ms / 1000,
        )

    # -- admin -------------------------------------------------------------------

    def pause(self) -> None:
        self.intake.pause()
        self.state = "paused"

    def resume(self) -> None:
        self.intake.resume()
        self.state = "running"

    def drain(self) -> None:
        """Take no new work; in-flight and queued jobs finish. ``resume`` undoes it."""
        self.intake.pause()
        self.state = "draining"

    def handle(self, incoming: Incoming) -> None:
        """Validate a request and queue it; answer at once when it cannot be taken."""
        if not incoming.reply:
            log.warning(
                "request on %s without a reply subject dropped (id %s)",
                incoming.subject,
                salvage_id(incoming.data),
            )
            return
        try:
            request = self._parse(incoming)
        except InvalidRequest as exc:
            reply: Any = refusal(
                salvage_id(incoming.data),
                salvage_language(incoming.data),
                Status.INVALID_REQUEST,
                str(exc),
            )
            if incoming.kind is Kind.PROBLEMS:
                reply = ProblemReply(
                    id=reply.id,
                    language=reply.language,
                    success=False,
                    status=Verdict.INVALID_REQUEST,
                    error=reply.error,
                )
            self.metrics.record(reply.id, reply.language, str(reply.status), 0.0)
            self._responder(incoming)(reply)
            return
        respond = self._responder(incoming)
        if incoming.poison:
            self._dead_letter(incoming, request, respond)
            return
        if not self.pool.docker_ok:
            self._cannot_take(
                incoming, request, respond, "the sandbox backend (Docker) is unavailable"
            )
            return
        if not self.dispatcher.submit(request, respond):
            self._cannot_take(
                incoming,
                request,
                respond,
                f"the engine is at capacity ({self.settings.queue_capacity} queued)",
            )

    def _cannot_take(
        self,
        incoming: Incoming,
        request: ExecuteRequest,
        respond: Callable[[Any], None],
        reason: str,
    ) -> None:
        if incoming.ticket is not None:
            # Durable requests wait in the stream instead of being refused.
            self.intake.defer(incoming.ticket, DEFER_S)
            return
        reply = refuse(request, Status.BUSY, f"{reason}; retry later")
        self.metrics.record(reply.id, reply.language, str(reply.status), 0.0)
        respond(reply)

    def _dead_letter(
        self, incoming: Incoming, request: ExecuteRequest, respond: Callable[[Any], None]
    ) -> None:
        assert incoming.ticket is not None
        subject = f"{self.settings.dead_letter_subject}.{incoming.kind.value}"
        log.error(
            "request %s delivered %d times without completing; moved to %s",
            request.id,
            incoming.ticket.deliveries,
            subject,
        )
        self.intake.publish(
            subject,
            incoming.data,
            {"Code-Engine-Reply": incoming.reply, "Code-Engine-Request-Id": request.id},
        )
        reply = refuse(
            request,
            Status.INTERNAL_ERROR,
            f"the request was delivered {incoming.ticket.deliveries} times without "
            f"completing; moved to {subject}",
        )
        self.metrics.record(reply.id, reply.language, str(reply.status), 0.0)
        respond(reply)

    def _parse(self, incoming: Incoming) -> ExecuteRequest:
        request = parse_request(incoming.data, incoming.kind, self._limits[incoming.kind])
        if incoming.kind is Kind.PROBLEMS:
            problem = parse_problem(
                incoming.data,
                max_tests=self.settings.problems_max_tests,
                max_stdin_bytes=self.settings.problems_max_stdin_bytes,
            )
            if problem is not None:
                request = dataclasses.replace(request, problem=problem)
        return request

    async def _execute(self, request: ExecuteRequest, respond: Callable[[Any], None]) -> None:
        if request.problem is not None:
            respond(await self.judge.judge(request, request.problem))
        else:
            await self.executor.run(request, respond)

    def _responder(self, incoming: Incoming) -> Callable[[Any], None]:
        arrived = trio.current_time()
        endpoint = self.discovery.endpoints[incoming.kind]

        def respond(reply: Any) -> None:
            endpoint.record(str(reply.status), trio.current_time() - arrived, reply.error)
            self._send(incoming.reply, reply, incoming.ticket)

        return respond

    def _send(
        self, subject: str, reply: Reply | ProblemReply, ticket: Ticket | None = None
    ) -> None:
        if isinstance(reply, ProblemReply):
            payload = fit_payload(reply, self.intake.max_payload - 4096)
        else:
            payload = encode_reply(reply)
        self.intake.publish(
            subject, payload, self.intake.reply_headers(), ticket, about=f"reply to {reply.id}"
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start pool, workers and intake in order; run until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.pool.run)
            await nursery.start(self.dispatcher.run)
            await nursery.start(self.intake.run)
            await nursery.start(self._stats.run)
            task_status.started()

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking requests and let in-flight jobs finish for up to ``grace_s``."""
        self.drain()
        with trio.move_on_after(grace_s) as scope:
            await self.dispatcher.drain()
        if scope.cancelled_caught:
            dropped = self.dispatcher.abandon_queued("the engine is shutting down")
            log.warning(
                "shutdown grace over: %d queued and %d running jobs answered internal_error",
                dropped,
                self.dispatcher.in_flight,
            )
        # Workers answer their cut-off jobs before the intake flushes and closes.
        self.dispatcher.cancel()
        await self.dispatcher.stopped.wait()
