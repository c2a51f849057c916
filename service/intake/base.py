"""What the engine needs from an intake, whatever carries the messages.

:class:`NatsIntake` (``nats.py``) is the real one; :class:`MemoryIntake`
(``memory.py``) is an in-memory one for unit tests. The rest of the engine sees
only this interface: requests arrive as :class:`Incoming` through the handler
given to ``run``; everything it sends goes through :meth:`Outbox.publish`, which
never blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from wire import Kind


@dataclass(eq=False)
class Ticket:
    """A durable delivery in flight: acknowledged once its reply is out."""

    handle: Any  # what the intake needs to settle it (a JetStream message)
    request_id: str | None
    deliveries: int
    poison: bool  # delivered too often without completing: do not run it again
    reply_key: str | None = None  # where the reply is kept (from the submitter's token)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One execute request as it arrived."""

    kind: Kind
    subject: str
    reply: str
    data: bytes
    ticket: Ticket | None = None  # durable deliveries: completed after the reply is out

    @property
    def poison(self) -> bool:
        return self.ticket is not None and self.ticket.poison


Handler = Callable[[Incoming], None]
ServiceHandler = Callable[[bytes], bytes]
HasRoom = Callable[[], bool]


class Outbox(Protocol):
    """The sending half: what replies, stats and dead letters go through."""

    @property
    def max_payload(self) -> int: ...

    def publish(
        self,
        subject: str,
        payload: bytes,
        headers: dict[str, str] | None = None,
        ticket: Ticket | None = None,
        about: str = "",
    ) -> None:
        """Queue a message; returns at once. With ``ticket``, settle the delivery once sent."""

    def defer(self, ticket: Ticket, delay_s: float) -> None:
        """Hand a durable delivery back for redelivery after ``delay_s``."""

    def reply_headers(self) -> dict[str, str]:
        """Headers every reply carries (the instance that answered)."""


class Intake(Outbox, Protocol):
    """Both halves, plus pause/resume and small request-reply services."""

    @property
    def connected(self) -> bool: ...

    @property
    def reconnects(self) -> int: ...

    @property
    def server_restarts(self) -> int:
        """Restarts of the embedded nats-server after it died (0 without one)."""
        ...

    def serve(self, subject: str, handler: ServiceHandler) -> None:
        """Answer requests on ``subject`` with ``handler`` (register before ``run``)."""

    def pause(self) -> None:
        """Stop taking execute requests; replies keep flowing."""

    def resume(self) -> None:
        """Take execute requests again."""

    async def run(
        self,
        handler: Handler,
        has_room: HasRoom,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Hand each request to ``handler`` until cancelled; pull durable ones on ``has_room``."""
