"""NATS intake, plain request-reply (with the durable consumer when enabled).

nats-py is an asyncio library; it runs here inside a trio-asyncio loop. The rest
of the engine sees a Trio-facing object:

* execute requests are handed to a synchronous callback as :class:`Incoming`;
* replies and other messages are queued with :meth:`NatsIntake.publish`, which
  never blocks (a publisher task inside the loop sends them);
* small request-reply services (admin, ``$SRV`` discovery) are registered with
  :meth:`NatsIntake.serve` as synchronous ``bytes -> bytes`` handlers;
* :meth:`pause` / :meth:`resume` drop and restore the execute subscriptions, so
  a paused instance gets no work while its queue-group peers keep serving.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio
import trio_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from trio_asyncio import aio_as_trio

from wire import Kind
from wire.connection import NatsConnectError, NatsSettingsError, connect
from wire.subjects import INSTANCE_HEADER, SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER

from ..config import Settings
from ..errors import EngineError
from .base import Handler, HasRoom, Incoming, ServiceHandler, Ticket
from .durable import DurableConsumer
from .nats_server import EmbeddedNats

log = logging.getLogger(__name__)

PENDING_MESSAGES = 65536
BATCH_LIMIT = 256  # messages published per trip into asyncio
DRAIN_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class _Publish:
    subject: str
    payload: bytes
    headers: dict[str, str] | None
    ticket: Ticket | None
    about: str  # what the message answers (a request id), for the log if it is lost


@dataclass(frozen=True, slots=True)
class _Defer:
    ticket: Ticket
    delay_s: float


class NatsIntake:
    """Subscribes to the execute subjects and publishes replies."""

    def __init__(self, settings: Settings, *, server: EmbeddedNats | None = None) -> None:
        self._settings = settings
        self._server = server  # the embedded nats-server, when the daemon runs one
        self._connection = settings.nats_connection
        self._handler: Handler = _not_running
        self._has_room: HasRoom = lambda: False
        self._out_send, self._out_recv = trio.open_memory_channel[_Publish | _Defer](math.inf)
        self._control_send, self._control_recv = trio.open_memory_channel[bool](math.inf)
        self._services: dict[str, ServiceHandler] = {}
        self._execute_subs: list[Subscription] = []
        self.connected = False
        self.accepting = False
        self.reconnects = 0
        self.lost_replies = 0
        self.max_payload = settings.nats_max_payload  # the server's, once connected
        self._durable: DurableConsumer | None = None
        self._closing = False
        self._error_logged = False  # one line per outage, not one per reconnect attempt

    @property
    def server_restarts(self) -> int:
        return self._server.restarts if self._server is not None else 0

    # -- the Trio-facing interface ----------------------------------------------

    def publish(
        self,
        subject: str,
        payload: bytes,
        headers: dict[str, str] | None = None,
        ticket: Ticket | None = None,
        about: str = "",
    ) -> None:
        """Queue a message for publishing; returns at once.

        With a durable ``ticket``, the delivery is acknowledged once the message is out.
        ``about`` (a request id) names the message in the log if it cannot be sent.
        """
        self._out_send.send_nowait(_Publish(subject, payload, headers, ticket, about))

    def defer(self, ticket: Ticket, delay_s: float) -> None:
        """Hand a durable delivery back to the stream for later (engine full, Docker down)."""
        self._out_send.send_nowait(_Defer(ticket, delay_s))

    def reply_headers(self) -> dict[str, str]:
        return {INSTANCE_HEADER: self._settings.instance_id}

    def serve(self, subject: str, handler: ServiceHandler) -> None:
        """Answer requests on ``subject`` with ``handler(data)`` (register before ``run``)."""
        self._services[subject] = handler

    def pause(self) -> None:
        """Stop taking execute requests (unsubscribe); replies keep flowing."""
        self._control_send.send_nowait(False)

    def resume(self) -> None:
        """Take execute requests again."""
        self._control_send.send_nowait(True)

    # -- the loop ----------------------------------------------------------------

    async def run(
        self,
        handler: Handler,
        has_room: HasRoom,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, subscribe, report ready, then pump messages until cancelled.

        Args:
            handler: gets each execute request (synchronous, must not block).
            has_room: durable requests are pulled only while it says so.

        Raises:
            EngineError: the first connection failed (the engine cannot start).
        On cancellation pending replies are flushed (shielded, bounded) and the
        connection is closed.
        """
        self._handler, self._has_room = handler, has_room
        async with trio_asyncio.open_loop():
            try:
                client = await aio_as_trio(connect)(
                    self._connection,
                    name=f"code-engine {self._settings.instance_id}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=5,
                    allow_reconnect=True,
                    pending_size=64 << 20,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    error_cb=self._on_error,
                )
            except (NatsConnectError, NatsSettingsError) as exc:
                raise EngineError(str(exc)) from None
            self.connected = True
            self.max_payload = client.max_payload or self.max_payload
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._publisher, client)
                    for subject, service in self._services.items():
                        sub = await aio_as_trio(client.subscribe)(subject)
                        nursery.start_soon(self._answer, sub, service)
                    await self._subscribe_execute(client)
                    if self._settings.durable:
                        self._durable = DurableConsumer(
                            self._settings, self._deliver_durable, self._has_room
                        )
                        await nursery.start(self._durable.run, client)
                    task_status.started()
                    async for accept in self._control_recv:
                        if accept and not self.accepting:
                            await self._subscribe_execute(client)
                        elif not accept and self.accepting:
                            await self._unsubscribe_execute()
            finally:
                self._closing = True
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self._flush_pending(client)
                    try:
                        await aio_as_trio(client.close)()
                    except Exception as exc:  # the server went away first
                        log.info("NATS connection closed uncleanly: %r", exc)
                self.connected = False

    async def _subscribe_execute(self, client: Client) -> None:
        for subject, kind in (
            (self._settings.compiler_subject, Kind.COMPILER),
            (self._settings.problems_subject, Kind.PROBLEMS),
        ):
            sub = await aio_as_trio(client.subscribe)(
                subject,
                queue=self._settings.queue_group,
                cb=self._receiver(kind),
                pending_msgs_limit=PENDING_MESSAGES,
            )
            self._execute_subs.append(sub)
        self.accepting = True
        log.info(
            "taking requests on %s and %s (queue group %s) at %s",
            self._settings.compiler_subject,
            self._settings.problems_subject,
            self._settings.queue_group,
            self._connection.describe(),
        )

    async def _unsubscribe_execute(self) -> None:
        self.accepting = False
        subs, self._execute_subs = self._execute_subs, []
        for sub in subs:
            # drain: messages already delivered to us are still handled (bounded:
            # with the server gone, draining would wait for it).
            with trio.move_on_after(DRAIN_TIMEOUT_S):
                try:
                    await aio_as_trio(sub.drain)()
                except Exception as exc:
                    log.warning("unsubscribe failed: %r", exc)
        log.info("stopped taking requests")

    def _receiver(self, kind: Kind) -> Callable[[Msg], Awaitable[None]]:
        # nats-py calls this in its own asyncio task for each message. trio-asyncio
        # runs that task inside Trio, so the (synchronous, never blocking) handler
        # can use Trio directly: no loop crossing per request.
        async def receive(msg: Msg) -> None:
            try:
                self._handler(Incoming(kind, msg.subject, msg.reply or "", msg.data))
            except Exception:
                log.exception("request handler failed on %s", msg.subject)

        return receive

    def _deliver_durable(self, incoming: Incoming) -> None:
        try:
            self._handler(incoming)
        except Exception:
            log.exception("request handler failed on durable %s", incoming.subject)

    async def _answer(self, sub: Subscription, handler: ServiceHandler) -> None:
        async for msg in aio_as_trio(sub.messages):
            if not msg.reply:
                continue
            try:
                payload = handler(msg.data)
            except Exception:
                log.exception("service handler failed on %s", msg.subject)
                # The requester still gets its one answer rather than a timeout.
                failed = {SERVICE_ERROR_HEADER: "internal error", SERVICE_ERROR_CODE_HEADER: "500"}
                self.publish(msg.reply, b"", failed)
                continue
            self.publish(msg.reply, payload)

    async def _publisher(self, client: Client) -> None:
        async for first in self._out_recv:
            batch = [first, *self._take_queued(BATCH_LIMIT - 1)]
            await self._send(client, batch)

    def _take_queued(self, limit: int) -> list[_Publish | _Defer]:
        items: list[_Publish | _Defer] = []
        while len(items) < limit:
            try:
                items.append(self._out_recv.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        return items

    async def _send(self, client: Client, batch: list[_Publish | _Defer]) -> None:
        """Publish a batch in one trip into asyncio, then settle its durable deliveries."""
        publishes = [item for item in batch if isinstance(item, _Publish)]
        failed = await aio_as_trio(_publish_all)(client, publishes) if publishes else {}
        for item in batch:
            if isinstance(item, _Defer):
                if self._durable is not None:
                    await self._durable.defer(item.ticket, item.delay_s)
            elif id(item) in failed:
                self.lost_replies += 1
                log.error(
                    "message on %s lost (%s): %r",
                    item.subject,
                    item.about or "no request",
                    failed[id(item)],
                )
            elif item.ticket is not None and self._durable is not None:
                # Acknowledged only now that its reply is out.
                if self._closing:  # the consumer's tasks are gone: settle it here
                    await self._durable.complete(item.ticket, item.payload)
                else:
                    self._durable.settle_soon(item.ticket, item.payload)

    async def _flush_pending(self, client: Client) -> None:
        # What is queued goes into the client's buffer; close() writes it out.
        while batch := self._take_queued(BATCH_LIMIT):
            await self._send(client, batch)

    async def _on_disconnected(self) -> None:
        if self.connected and not self._closing:
            log.warning("disconnected from NATS; reconnecting")
        self.connected = False

    async def _on_reconnected(self) -> None:
        self.connected = True
        self.reconnects += 1
        self._error_logged = False
        log.info("reconnected to NATS")

    async def _on_error(self, exc: Exception) -> None:
        if self.connected or not self._error_logged:
            log.warning("NATS error: %r", exc)
            self._error_logged = not self.connected
        else:
            log.debug("NATS error: %r", exc)


async def _publish_all(client: Client, items: list[_Publish]) -> dict[int, Exception]:
    """(asyncio) Publish each item; the failures by ``id(item)``."""
    failed: dict[int, Exception] = {}
    for item in items:
        try:
            await client.publish(item.subject, item.payload, headers=item.headers)
        except Exception as exc:  # nats-py raises many unrelated types here
            failed[id(item)] = exc
    return failed


def _not_running(incoming: Incoming) -> None:
    raise RuntimeError("the intake got a request before run() started")
