"""Admission: what happens to a request between its arrival and the queue.

:meth:`Admission.handle` is the intake's handler. It validates the payload once
(:func:`service.requests.parse_request`), and answers at once what cannot be
run: ``invalid_request``; ``busy`` when the sandbox backend is down or the queue
is full (a durable request is handed back to its stream instead); a poison
durable request is dead-lettered. Everything else is queued on the dispatcher.
It never blocks and never raises: an exception no check foresaw still gets the
request its one reply (``invalid_request`` when reading the payload raised it,
else ``internal_error``), and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from wire import Kind, Status
from wire.subjects import REPLY_HEADER, REQUEST_ID_HEADER, dead_letter_subject

from ..config import Settings
from ..errors import InvalidRequest
from ..intake import Incoming, Outbox
from ..jobs.refusals import refuse, refuse_payload
from ..requests import ExecuteRequest, limits_for, parse_request, salvage_id
from .dispatch import Dispatcher
from .replies import Replies, Responder

log = logging.getLogger(__name__)

DEFER_S = 1.0  # a durable request the engine cannot take now is redelivered after this


class Admission:
    def __init__(
        self,
        settings: Settings,
        dispatcher: Dispatcher,
        replies: Replies,
        outbox: Outbox,
        backend_ok: Callable[[], bool],
    ) -> None:
        self._settings = settings
        self._dispatcher = dispatcher
        self._replies = replies
        self._outbox = outbox
        self._backend_ok = backend_ok
        self._limits = {kind: limits_for(kind, settings) for kind in Kind}

    def handle(self, incoming: Incoming) -> None:
        """Validate a request and queue it; answer at once when it cannot be taken.

        Never raises: whatever goes wrong, a request with a reply subject gets
        exactly one reply (its responder sends at most one).
        """
        if not incoming.reply:
            log.warning(
                "request on %s without a reply subject dropped (id %s)",
                incoming.subject,
                salvage_id(incoming.data),
            )
            return
        respond = self._replies.responder(incoming)
        try:
            self._admit(incoming, respond)
        except Exception:
            log.exception("admitting a request on %s failed", incoming.subject)
            self._refuse(incoming, respond, Status.INTERNAL_ERROR, "the engine failed to admit it")

    def _admit(self, incoming: Incoming, respond: Responder) -> None:
        try:
            request = parse_request(incoming.data, incoming.kind, self._limits[incoming.kind])
        except InvalidRequest as exc:
            self._refuse(incoming, respond, Status.INVALID_REQUEST, str(exc))
            return
        except (RecursionError, ValueError, OverflowError) as exc:
            # What a payload alone can cause while it is read (nesting, numbers,
            # text): the request's fault, not the engine's, though unforeseen.
            log.exception("validating a request on %s failed", incoming.subject)
            reason = f"the request could not be read: {type(exc).__name__}"
            self._refuse(incoming, respond, Status.INVALID_REQUEST, reason)
            return
        except Exception:
            log.exception("validating a request on %s failed", incoming.subject)
            reason = "the engine failed to validate the request"
            self._refuse(incoming, respond, Status.INTERNAL_ERROR, reason)
            return
        if incoming.poison:
            self._dead_letter(incoming, request, respond)
        elif not self._backend_ok():
            self._cannot_take(
                incoming, request, respond, "the sandbox backend (Docker) is unavailable"
            )
        elif not self._dispatcher.submit(request, respond):
            self._cannot_take(
                incoming,
                request,
                respond,
                f"the engine is at capacity ({self._dispatcher.capacity} queued)",
            )

    @staticmethod
    def _refuse(incoming: Incoming, respond: Responder, status: Status, reason: str) -> None:
        respond(refuse_payload(incoming.kind, incoming.data, status, reason))

    def _cannot_take(
        self, incoming: Incoming, request: ExecuteRequest, respond: Responder, reason: str
    ) -> None:
        if incoming.ticket is not None:
            # Durable requests wait in the stream instead of being refused.
            self._outbox.defer(incoming.ticket, DEFER_S)
            return
        respond(refuse(request, Status.BUSY, f"{reason}; retry later"))

    def _dead_letter(self, incoming: Incoming, request: ExecuteRequest, respond: Responder) -> None:
        assert incoming.ticket is not None
        subject = dead_letter_subject(self._settings.dead_letter_subject, incoming.kind)
        deliveries = incoming.ticket.deliveries
        log.error(
            "request %s delivered %d times without completing; moved to %s",
            request.id,
            deliveries,
            subject,
        )
        self._outbox.publish(
            subject, incoming.data, {REPLY_HEADER: incoming.reply, REQUEST_ID_HEADER: request.id}
        )
        respond(
            refuse(
                request,
                Status.INTERNAL_ERROR,
                f"the request was delivered {deliveries} times without completing; "
                f"moved to {subject}",
            )
        )
