"""NATS intake: the only module that touches asyncio.

nats-py is an asyncio library; it runs here inside a trio-asyncio loop. The rest
of the engine sees a Trio-facing object: incoming requests are handed to a
synchronous callback as :class:`Incoming` values, and replies are queued with
:meth:`NatsIntake.publish`, which never blocks (a publisher task inside the loop
sends them).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import nats
import trio
import trio_asyncio
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from trio_asyncio import aio_as_trio

from .config import Settings
from .protocol import Kind

log = logging.getLogger(__name__)

INSTANCE_HEADER = "Code-Engine-Instance"


@dataclass(frozen=True, slots=True)
class Incoming:
    kind: Kind
    subject: str
    reply: str
    data: bytes


Handler = Callable[[Incoming], None]


class NatsIntake:
    """Subscribes to the execute subjects and publishes replies."""

    def __init__(self, settings: Settings, handler: Handler) -> None:
        self._settings = settings
        self._handler = handler
        self._out_send, self._out_recv = trio.open_memory_channel[
            tuple[str, bytes, dict[str, str] | None]
        ](math.inf)
        self._subscriptions: list[Subscription] = []
        self._client: Client | None = None
        self._stop_intake = trio.Event()
        self.connected = False
        self.accepting = False
        self.max_payload = settings.nats_max_payload  # the server's, once connected

    def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
        """Queue a message for publishing; returns at once."""
        self._out_send.send_nowait((subject, payload, headers))

    def reply_headers(self) -> dict[str, str]:
        return {INSTANCE_HEADER: self._settings.instance_id}

    def stop_accepting(self) -> None:
        """Unsubscribe from the request subjects; replies keep flowing."""
        self._stop_intake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, subscribe, report ready, then pump messages until cancelled.

        Raises:
            OSError / nats errors: the first connection failed (the engine cannot start).
        On cancellation pending replies are flushed (shielded, bounded) and the
        connection is closed.
        """
        async with trio_asyncio.open_loop():
            client = await aio_as_trio(nats.connect)(
                servers=[self._settings.effective_nats_url],
                name=f"code-engine {self._settings.instance_id}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=5,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
                error_cb=self._on_error,
            )
            self._client = client
            self.connected = True
            self.max_payload = client.max_payload or self.max_payload
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._publisher, client)
                    for subject, kind in (
                        (self._settings.compiler_subject, Kind.COMPILER),
                        (self._settings.problems_subject, Kind.PROBLEMS),
                    ):
                        sub = await aio_as_trio(client.subscribe)(
                            subject, queue=self._settings.queue_group, pending_msgs_limit=65536
                        )
                        self._subscriptions.append(sub)
                        nursery.start_soon(self._pump, sub, kind)
                    self.accepting = True
                    log.info(
                        "listening on %s and %s (queue group %s) at %s",
                        self._settings.compiler_subject,
                        self._settings.problems_subject,
                        self._settings.queue_group,
                        self._settings.effective_nats_url,
                    )
                    task_status.started()
                    await self._stop_intake.wait()
                    await self._unsubscribe()
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self._flush_pending(client)
                    await aio_as_trio(client.close)()
                self.connected = False

    async def _pump(self, sub: Subscription, kind: Kind) -> None:
        async for msg in aio_as_trio(sub.messages):
            if self._stop_intake.is_set():
                break
            try:
                self._handler(Incoming(kind, msg.subject, msg.reply or "", msg.data))
            except Exception:
                log.exception("request handler failed on %s", msg.subject)

    async def _publisher(self, client: Client) -> None:
        async for subject, payload, headers in self._out_recv:
            await self._send(client, subject, payload, headers)

    async def _send(
        self, client: Client, subject: str, payload: bytes, headers: dict[str, str] | None
    ) -> None:
        try:
            await aio_as_trio(client.publish)(subject, payload, headers=headers)
        except Exception as exc:  # nats-py raises many unrelated types here
            log.error("reply on %s lost: %r", subject, exc)

    async def _flush_pending(self, client: Client) -> None:
        while True:
            try:
                subject, payload, headers = self._out_recv.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            await self._send(client, subject, payload, headers)
        try:
            await aio_as_trio(client.flush)(timeout=2)
        except Exception as exc:
            log.warning("flush on close failed: %r", exc)

    async def _unsubscribe(self) -> None:
        self.accepting = False
        for sub in self._subscriptions:
            try:
                await aio_as_trio(sub.unsubscribe)()
            except Exception as exc:
                log.warning("unsubscribe failed: %r", exc)
        self._subscriptions.clear()
        await trio.sleep_forever()

    async def _on_disconnected(self) -> None:
        self.connected = False
        log.warning("disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        self.connected = True
        log.info("reconnected to NATS")

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS error: %r", exc)
