"""An in-memory intake for unit tests: requests in by a method call, sent messages in a list."""

from __future__ import annotations

from dataclasses import dataclass

import trio

from wire import Kind
from wire.subjects import INSTANCE_HEADER

from .base import Handler, HasRoom, Incoming, ServiceHandler, Ticket


@dataclass(frozen=True, slots=True)
class Sent:
    subject: str
    payload: bytes
    headers: dict[str, str] | None
    ticket: Ticket | None


class MemoryIntake:
    """Implements :class:`service.intake.base.Intake` without NATS.

    ``submit`` hands a request to the engine as NATS would; ``sent`` records
    everything published, ``deferred`` every delivery handed back, and
    ``completed`` every ticket settled by a reply.
    """

    def __init__(self, *, instance_id: str = "memory", max_payload: int = 8 << 20) -> None:
        self.instance_id = instance_id
        self.max_payload = max_payload
        self.connected = True
        self.reconnects = 0
        self.server_restarts = 0
        self.accepting = False
        self.sent: list[Sent] = []
        self.deferred: list[tuple[Ticket, float]] = []
        self.completed: list[Ticket] = []
        self.services: dict[str, ServiceHandler] = {}
        self._handler: Handler | None = None
        self._has_room: HasRoom = lambda: True
        self._published = trio.Event()

    # -- the engine's side -------------------------------------------------------

    def publish(
        self,
        subject: str,
        payload: bytes,
        headers: dict[str, str] | None = None,
        ticket: Ticket | None = None,
        about: str = "",
    ) -> None:
        self.sent.append(Sent(subject, payload, headers, ticket))
        if ticket is not None:
            self.completed.append(ticket)
        self._published.set()
        self._published = trio.Event()

    def defer(self, ticket: Ticket, delay_s: float) -> None:
        self.deferred.append((ticket, delay_s))

    def reply_headers(self) -> dict[str, str]:
        return {INSTANCE_HEADER: self.instance_id}

    def serve(self, subject: str, handler: ServiceHandler) -> None:
        self.services[subject] = handler

    def pause(self) -> None:
        self.accepting = False

    def resume(self) -> None:
        self.accepting = True

    async def run(
        self,
        handler: Handler,
        has_room: HasRoom,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self._handler, self._has_room = handler, has_room
        self.accepting = True
        task_status.started()
        await trio.sleep_forever()

    # -- the test's side -----------------------------------------------------------

    def submit(
        self,
        data: bytes,
        *,
        kind: Kind = Kind.COMPILER,
        reply: str = "inbox",
        ticket: Ticket | None = None,
    ) -> None:
        """Deliver a request as the real intake would (``run`` must have started)."""
        assert self._handler is not None, "the intake is not running"
        self._handler(Incoming(kind, f"{kind.value}.execute.request", reply, data, ticket))

    def has_room(self) -> bool:
        return self._has_room()

    def request(self, subject: str, payload: bytes) -> bytes:
        """Call a registered service (admin, $SRV) as a NATS request would."""
        return self.services[subject](payload)

    def sent_to(self, subject: str) -> list[Sent]:
        return [item for item in self.sent if item.subject == subject]

    async def wait_sent(self, subject: str, count: int = 1) -> list[Sent]:
        """Wait until ``count`` messages went to ``subject``."""
        while len(found := self.sent_to(subject)) < count:
            await self._published.wait()
        return found
