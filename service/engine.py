"""The engine's root: one nursery tree, started in dependency order.

::

    serve()
    └── root nursery
        ├── embedded nats-server      (only when NATSURL is unset and :4222 is free)
        ├── log shipper               (only when BetterStack is configured)
        ├── Pool.run                  warm containers + health monitor (every 1 s)
        ├── Dispatcher.run            `concurrency` worker tasks, each job in a cancel scope
        ├── NatsIntake.run            nats-py under trio-asyncio: requests in, replies out
        └── shutdown watcher          SIGINT/SIGTERM: stop intake, drain, clean up

Each component is started with ``await nursery.start(...)`` and reports ready
only when it truly is, so the order is explicit: no request is taken before the
pool is warm.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import trio

from docker_api import DockerClient, DockerError

from .config import Settings
from .dispatch import Dispatcher
from .errors import EngineError, InvalidRequest
from .execute import Executor
from .intake import Incoming, NatsIntake
from .judge import Judge
from .metrics import Metrics
from .nats_server import listening, run_embedded
from .pool import Pool
from .problems import ProblemReply, Verdict, fit_payload, parse_problem
from .protocol import (
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

log = logging.getLogger(__name__)


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
        self._limits = {kind: limits_for(kind, settings) for kind in Kind}

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
            self._send(incoming.reply, reply)
            return
        respond = self._responder(incoming.reply)
        if not self.dispatcher.submit(request, respond):
            reason = (
                f"the engine is at capacity ({self.settings.queue_capacity} queued); retry later"
            )
            reply = refuse(request, Status.BUSY, reason)
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

    async def _execute(self, request: ExecuteRequest) -> Any:
        if request.problem is not None:
            return await self.judge.judge(request, request.problem)
        return await self.executor.execute(request)

    def _responder(self, subject: str) -> Callable[[Any], None]:
        def respond(reply: Any) -> None:
            self._send(subject, reply)

        return respond

    def _send(self, subject: str, reply: Reply | ProblemReply) -> None:
        if isinstance(reply, ProblemReply):
            payload = fit_payload(reply, self.intake.max_payload - 4096)
        else:
            payload = encode_reply(reply)
        self.intake.publish(subject, payload, self.intake.reply_headers())

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start pool, workers and intake in order; run until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.pool.run)
            await nursery.start(self.dispatcher.run)
            await nursery.start(self.intake.run)
            task_status.started()

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking requests and let in-flight jobs finish for up to ``grace_s``."""
        self.intake.stop_accepting()
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


async def serve(settings: Settings) -> None:
    """Run the daemon until SIGINT/SIGTERM.

    Raises:
        EngineError: a component could not start (Docker, image, NATS).
    """
    from .logs import ship_logs

    async with trio.open_nursery() as root:
        if settings.betterstack_url and settings.betterstack_token:
            await root.start(ship_logs, settings.betterstack_url, settings.betterstack_token)
        if settings.nats_url is None and not listening():
            url = await root.start(run_embedded, settings.nats_max_payload)
            log.info("using embedded NATS at %s", url)
        async with DockerClient(socket_path=settings.docker_socket) as docker:
            try:
                await docker.system.ping()
            except DockerError as exc:
                raise EngineError(f"Docker daemon does not answer: {exc}") from exc
            engine = Engine(settings, docker)
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                log.info("code-engine %s ready", settings.instance_id)
                await _wait_for_signal()
                log.info("shutting down: draining for up to %.0f s", settings.shutdown_grace_s)
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as again:
                    async with trio.open_nursery() as closing:
                        closing.start_soon(_on_second_signal, again, engine, closing.cancel_scope)
                        await engine.shutdown(settings.shutdown_grace_s)
                        closing.cancel_scope.cancel()
                nursery.cancel_scope.cancel()
        root.cancel_scope.cancel()
    log.info("stopped")


async def _wait_for_signal() -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("received %s", signal.Signals(signum).name)
            return


async def _on_second_signal(
    signals: AsyncIterator[int], engine: Engine, scope: trio.CancelScope
) -> None:
    async for _ in signals:
        log.warning("second signal: stopping now")
        engine.dispatcher.cancel()
        scope.cancel()
        return
