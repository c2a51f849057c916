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

On a NATS cluster the stream and both buckets have ``durable_replicas`` replicas,
so losing a node (even the stream's leader) loses nothing. What completes a job
(keeping its reply, recording it done, the acknowledgement) is retried for up to
``SETTLE_TIMEOUT_S`` while JetStream elects a new leader, and the job keeps its
in-progress acknowledgements until then, so it is not redelivered meanwhile.

A submitter that sends a ``Code-Engine-Reply-Token`` header (a secret of its own)
also finds the reply in the ``code-engine-replies`` bucket for
``durable_reply_ttl_s``, under ``reply_key(token)``: a reply published while the
submitter was reconnecting is not lost to it.
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
from wire.subjects import (
    DURABLE_PREFIX,
    MSG_ID_HEADER,
    REPLIES_BUCKET,
    REPLY_HEADER,
    REPLY_TOKEN_HEADER,
    durable_subject,
    reply_key,
)

from .base import Incoming, Ticket

log = logging.getLogger(__name__)

DONE_BUCKET = "code-engine-done"
DONE_TTL_S = 3600.0
SETTLE_TIMEOUT_S = 20.0  # a leader election takes a few seconds
SETTLE_OP_TIMEOUT_S = 2.0
# A cluster electing its JetStream meta leader answers API requests late or with
# 503. (No responders at all is a server without JetStream: that fails at once.)
SET_UP_TIMEOUT_S = 60.0
SET_UP_FIRST_DELAY_S = 0.2
SET_UP_MAX_DELAY_S = 3.0
NOT_READY_YET = (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError)


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
        self._replies: Any = None
        self._nursery: trio.Nursery | None = None
        self.settle_retries = 0  # completions retried (leader changes, reconnects)

    async def run(
        self, client: Client, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Set up stream, consumer and done-bucket, then pull until cancelled."""
        settings = self._settings
        sub = await self._set_up_when_ready(client.jetstream())
        log.info(
            "durable mode: pulling from stream %s (consumer %s)",
            settings.durable_stream,
            settings.durable_consumer,
        )
        task_status.started()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
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
        request_id = headers.get(MSG_ID_HEADER)
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
        token = headers.get(REPLY_TOKEN_HEADER)
        ticket = Ticket(
            msg,
            request_id,
            deliveries,
            poison=deliveries >= self._settings.durable_max_deliver,
            reply_key=reply_key(token) if token else None,
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

    def settle_soon(self, ticket: Ticket, reply: bytes) -> None:
        """:meth:`complete` in the background: a leader change must not hold up other replies."""
        if self._nursery is None:
            raise RuntimeError("the durable consumer is not running")
        self._nursery.start_soon(self.complete, ticket, reply)

    async def complete(self, ticket: Ticket, reply: bytes = b"") -> None:
        """After the reply was published: keep it, remember the id, then acknowledge.

        Each step is retried through a leader change or a reconnection; the
        delivery keeps its in-progress acknowledgements until it is settled.
        Shielded (for at most ``SETTLE_TIMEOUT_S`` in all): a shutdown does not
        leave an answered job unacknowledged, to be run again elsewhere.
        """
        with trio.CancelScope(shield=True), trio.move_on_after(SETTLE_TIMEOUT_S):
            await self._complete(ticket, reply)

    async def _complete(self, ticket: Ticket, reply: bytes) -> None:
        try:
            if ticket.reply_key and reply:
                await self._settle(
                    "keep the reply of", ticket, self._replies.put, ticket.reply_key, reply
                )
            if ticket.request_id:
                await self._settle(
                    "record as done", ticket, self._kv.put, _done_key(ticket.request_id), b"1"
                )
            await self._settle("acknowledge", ticket, ticket.handle.ack_sync, SETTLE_OP_TIMEOUT_S)
        finally:
            self._pending.discard(ticket)

    async def _settle(self, what: str, ticket: Ticket, op: Any, *args: Any) -> bool:
        """Run a JetStream call until it succeeds or ``SETTLE_TIMEOUT_S`` passed."""
        delay = 0.05
        with trio.move_on_after(SETTLE_TIMEOUT_S):
            while True:
                try:
                    with trio.fail_after(SETTLE_OP_TIMEOUT_S * 2):
                        await aio_as_trio(op)(*args)
                    return True
                except Exception as exc:  # timeouts, no responders, reconnecting
                    self.settle_retries += 1
                    log.info(
                        "could not %s durable request %s yet: %r", what, ticket.request_id, exc
                    )
                await trio.sleep(delay)
                delay = min(delay * 2, 1.0)
        log.error(
            "could not %s durable request %s in %.0f s", what, ticket.request_id, SETTLE_TIMEOUT_S
        )
        return False

    async def defer(self, ticket: Ticket, delay_s: float) -> None:
        """Hand a message back to the stream, to be delivered again after ``delay_s``."""
        self._pending.discard(ticket)
        try:
            await aio_as_trio(ticket.handle.nak)(delay=delay_s)
        except Exception as exc:
            log.warning("could not hand back durable request %s: %r", ticket.request_id, exc)

    async def _set_up_when_ready(self, js: Any) -> Any:
        """:meth:`_set_up`, again while JetStream cannot answer yet.

        A cluster that has just started (or lost its meta leader) has every node
        up before JetStream can create anything: its API requests time out or
        say 503 until a leader is elected. That is waited out, with backoff, for
        ``SET_UP_TIMEOUT_S``; then the last error stands.
        """
        delay, deadline = SET_UP_FIRST_DELAY_S, trio.current_time() + SET_UP_TIMEOUT_S
        while True:
            try:
                return await self._set_up(js)
            except NOT_READY_YET as exc:
                if trio.current_time() + delay > deadline:
                    raise
                log.warning("durable mode: JetStream not ready (%r); again in %.1f s", exc, delay)
                await trio.sleep(delay)
                delay = min(delay * 2, SET_UP_MAX_DELAY_S)

    async def _set_up(self, js: Any) -> Any:
        """The work-queue stream, the two buckets and the pull subscription (idempotent)."""
        settings = self._settings
        stream = api.StreamConfig(
            name=settings.durable_stream,
            subjects=[f"{DURABLE_PREFIX}.>"],
            retention=api.RetentionPolicy.WORK_QUEUE,
            duplicate_window=settings.durable_duplicate_window_s,
            max_msg_size=settings.nats_max_payload,
            num_replicas=settings.durable_replicas,
        )
        try:
            await aio_as_trio(js.add_stream)(stream)
        except nats.js.errors.BadRequestError:
            await aio_as_trio(js.update_stream)(stream)
        replicas = settings.durable_replicas
        self._kv = await aio_as_trio(js.create_key_value)(
            bucket=DONE_BUCKET, ttl=DONE_TTL_S, replicas=replicas
        )
        self._replies = await aio_as_trio(js.create_key_value)(
            bucket=REPLIES_BUCKET, ttl=settings.durable_reply_ttl_s, replicas=replicas
        )
        consumer = api.ConsumerConfig(
            durable_name=settings.durable_consumer,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=settings.durable_ack_wait_s,
            max_deliver=settings.durable_max_deliver,
            max_ack_pending=-1,
        )
        return await aio_as_trio(js.pull_subscribe)(
            f"{DURABLE_PREFIX}.>",
            durable=settings.durable_consumer,
            stream=settings.durable_stream,
            config=consumer,
        )

    async def _keep_alive(self) -> None:
        interval = max(0.5, self._settings.durable_ack_wait_s / 3)
        while True:
            await trio.sleep(interval)
            for ticket in list(self._pending):
                try:
                    await aio_as_trio(ticket.handle.in_progress)()
                except Exception as exc:
                    log.debug("in-progress ack failed: %r", exc)
