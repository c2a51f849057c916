"""Sending replies: the one place a reply is recorded, logged, encoded and published.

Every reply, whether the job ran or was refused at the door, goes through a
:class:`Responder` made for its request by :meth:`Replies.responder`: it counts
the reply in :class:`Metrics` and in the request's ``$SRV`` endpoint, writes the
job's log line, encodes it (a problems reply is fitted under the server's
payload limit, unless it comes :class:`~service.jobs.fitting.Fitted` and
encoded already) and hands it to the outbox with the request's durable ticket.
A responder sends at most one reply; later calls are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import trio

from wire.replies import ProblemReply, encode

from ..intake import Incoming, Outbox
from ..jobs.fitting import Fitted, Outgoing, fit
from ..operations.discovery import EndpointStats
from ..operations.metrics import Metrics

log = logging.getLogger(__name__)

# Room left under the payload limit for headers and protocol framing.
PAYLOAD_MARGIN = 4096


class Responder:
    """Answers one request, once."""

    def __init__(self, replies: Replies, incoming: Incoming) -> None:
        self._replies = replies
        self._incoming = incoming
        self._arrived = trio.current_time()
        self.answered = False

    def __call__(self, reply: Outgoing) -> None:
        if self.answered:
            return
        self.answered = True
        self._replies.send(self._incoming, reply, trio.current_time() - self._arrived)


class Replies:
    def __init__(
        self, outbox: Outbox, metrics: Metrics, endpoints: Mapping[str, EndpointStats]
    ) -> None:
        self._outbox = outbox
        self._metrics = metrics
        self._endpoints = endpoints

    def responder(self, incoming: Incoming) -> Responder:
        """The responder of a request that just arrived (its clock starts now)."""
        return Responder(self, incoming)

    def send(self, incoming: Incoming, outgoing: Outgoing, elapsed_s: float) -> None:
        reply = outgoing.reply if isinstance(outgoing, Fitted) else outgoing
        total_ms = elapsed_s * 1000
        status = str(reply.status)
        self._metrics.record(reply.id, reply.language, status, total_ms, incoming.kind)
        self._endpoints[incoming.kind].record(status, elapsed_s, reply.error)
        log.info(
            "job %s %s: %s in %.1f ms",
            reply.id,
            reply.language,
            status,
            total_ms,
            extra={
                "job_id": reply.id,
                "language": reply.language,
                "status": status,
                "total_ms": round(total_ms, 2),
            },
        )
        if isinstance(outgoing, Fitted):
            payload = outgoing.payload
        elif isinstance(reply, ProblemReply):
            payload = fit(reply, self._outbox.max_payload - PAYLOAD_MARGIN)
        else:
            payload = encode(reply)
        try:
            self._outbox.publish(
                incoming.reply,
                payload,
                self._outbox.reply_headers(),
                incoming.ticket,
                about=f"reply to {reply.id}",
            )
        except Exception:
            log.exception("could not send the reply to job %s", reply.id)
