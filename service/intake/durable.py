"""Durable mode: requests through a JetStream work queue, acknowledged only after the reply.

Opt-in (``CODE_ENGINE_DURABLE=1``). Submitters publish to
``code-engine.durable.compiler`` / ``code-engine.durable.problems`` with JetStream
(``engine_client.EngineClient.submit_durable`` does it) and two headers:
``Nats-Msg-Id`` (the request id: the stream drops duplicates within its window)
and ``Code-Engine-Reply`` (the inbox the reply goes to). Every instance pulls from
one durable consumer, so work spreads over them, and:

* a message is acknowledged only after its reply was published (and its id
  recorded as done, so a redelivery of a finished job is acknowledged, not run
  again);
* long jobs send in-progress acknowledgements, so they are not redelivered while
  they run; a job whose instance died (even by SIGKILL) is redelivered to
  another instance after ``ack_wait``;
* a message delivered ``max_deliver`` times without completing is a poison
  message: it is answered ``internal_error`` and copied to the dead-letter
  subject instead of being run again;
* when the engine cannot take a job (queue full, Docker down) it is handed back
  with a delayed negative acknowledgement and stays queued.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import nats.errors
import nats.js.errors
import trio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from trio_asyncio import aio_as_trio

from service.config import Settings
from wire import Kind
from wire.subjects import DURABLE_PREFIX, REPLY_HEADER, durable_subject

from .base import Incoming, Ticket

log = logging.getLogger(__name__)

DONE_BUCKET = "code-engine-done"
DONE_TTL_S = 3600.0


def _done_key(request_id: str) -> str:
    # KV keys allow a narrow alphabet; request ids are free text.
    return hashlib.sha256(request_id.encode()).hexdigest()[:40]


class DurableConsumer:
    """Pulls durable requests when the engine has room; completes them after the reply."""

    def __init__(
        self, settings: Settings, deliver: Callable[[Incoming], None], has_room: Callable[[], bool]
    ) -> None:
        self._settings = settings
        self._deliver = deliver
        self._has_room = has_room
        self._pending: set[Ticket] = set()
        self._kv: Any = None

    async def run(
        self, client: Client, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Set up stream, consumer and done-bucket, then pull until cancelled."""
        settings = self._settings
        js = client.jetstream()
        stream = api.StreamConfig(
            name=settings.durable_stream,
            subjects=[f"{DURABLE_PREFIX}.>"],
            retention=api.RetentionPolicy.WORK_QUEUE,
            duplicate_window=settings.durable_duplicate_window_s,
            max_msg_size=settings.nats_max_payload,
        )
        try:
            await aio_as_trio(js.add_stream)(stream)
        except nats.js.errors.BadRequestError:
            await aio_as_trio(js.update_stream)(stream)
        self._kv = await aio_as_trio(js.create_key_value)(bucket=DONE_BUCKET, ttl=DONE_TTL_S)
        consumer = api.ConsumerConfig(
            durable_name=settings.durable_consumer,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=settings.durable_ack_wait_s,
            max_deliver=settings.durable_max_deliver,
            max_ack_pending=-1,
        )
        sub = await aio_as_trio(js.pull_subscribe)(
            f"{DURABLE_PREFIX}.>",
            durable=settings.durable_consumer,
            stream=settings.durable_stream,
            config=consumer,
        )
        log.info(
            "durable mode: pulling from stream %s (consumer %s)",
            settings.durable_stream,
            settings.durable_consumer,
        )
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_alive)
            while True:
                # Room depends on the queue and on Docker; polling keeps both simple.
                while not self._has_room():  # noqa: ASYNC110
                    await trio.sleep(0.02)
                try:
                    messages = await aio_as_trio(sub.fetch)(1, timeout=1)
                except nats.errors.TimeoutError:
                    continue
                except Exception as exc:  # disconnected: nats-py reconnects by itself
                    log.warning("durable fetch failed: %r", exc)
                    await trio.sleep(1)
                    continue
                for msg in messages:
                    await self._take(msg)

    async def _take(self, msg: Msg) -> None:
        headers = msg.headers or {}
        request_id = headers.get("Nats-Msg-Id")
        if request_id and await self._already_done(request_id):
            log.info("durable request %s was already answered; acknowledging", request_id)
            await aio_as_trio(msg.ack)()
            return
        reply_to = headers.get(REPLY_HEADER)
        if not reply_to:
            log.warning(
                "durable message without %s header dropped (id %s)", REPLY_HEADER, request_id
            )
            await aio_as_trio(msg.term)()
            return
        kind = Kind.PROBLEMS if msg.subject == durable_subject(Kind.PROBLEMS) else Kind.COMPILER
        deliveries = msg.metadata.num_delivered or 1
        ticket = Ticket(
            msg, request_id, deliveries, poison=deliveries >= self._settings.durable_max_deliver
        )
        self._pending.add(ticket)
        self._deliver(Incoming(kind, msg.subject, reply_to, msg.data, ticket))

    async def _already_done(self, request_id: str) -> bool:
        try:
            await aio_as_trio(self._kv.get)(_done_key(request_id))
        except nats.js.errors.KeyNotFoundError:
            return False
        except Exception as exc:
            log.warning("done-bucket lookup failed: %r", exc)
            return False
        return True

    async def complete(self, ticket: Ticket) -> None:
        """After the reply was published: remember the id, then acknowledge."""
        self._pending.discard(ticket)
        try:
            if ticket.request_id:
                await aio_as_trio(self._kv.put)(_done_key(ticket.request_id), b"1")
            await aio_as_trio(ticket.handle.ack)()
        except Exception as exc:
            log.error("could not acknowledge durable request %s: %r", ticket.request_id, exc)

    async def defer(self, ticket: Ticket, delay_s: float) -> None:
        """Hand a message back to the stream, to be delivered again after ``delay_s``."""
        self._pending.discard(ticket)
        try:
            await aio_as_trio(ticket.handle.nak)(delay=delay_s)
        except Exception as exc:
            log.warning("could not hand back durable request %s: %r", ticket.request_id, exc)

    async def _keep_alive(self) -> None:
        interval = max(0.5, self._settings.durable_ack_wait_s / 3)
        while True:
            await trio.sleep(interval)
            for ticket in list(self._pending):
                try:
                    await aio_as_trio(ticket.handle.in_progress)()
                except Exception as exc:
                    log.debug("in-progress ack failed: %r", exc)
