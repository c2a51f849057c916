"""Admission through the in-memory intake: refusals, durable hand-backs, dead letters."""

from __future__ import annotations

import base64
import json

import trio

from service.config import Settings
from service.intake.base import Ticket
from service.intake.memory import MemoryIntake
from service.operations.discovery import EndpointStats
from service.operations.metrics import Metrics
from service.scheduling.admission import DEFER_S, Admission
from service.scheduling.dispatch import Dispatcher
from service.scheduling.replies import Replies
from wire import Kind
from wire.subjects import INSTANCE_HEADER, REPLY_HEADER

SETTINGS = Settings.from_env({}, instance_id="unit", queue_capacity=1)
GOOD = json.dumps({"language": "py", "code": base64.b64encode(b"print(1)").decode()}).encode()


class Door:
    """An admission whose dispatcher never starts its workers: what is queued stays queued."""

    def __init__(self, *, backend_ok: bool = True) -> None:
        self.intake = MemoryIntake(instance_id="unit")
        self.metrics = Metrics()
        self.dispatcher = Dispatcher(
            self._never, concurrency=1, capacity=SETTINGS.queue_capacity, metrics=self.metrics
        )
        endpoints = {kind: EndpointStats(kind.value, f"{kind}.subject", "q") for kind in Kind}
        self.endpoints = endpoints
        replies = Replies(self.intake, self.metrics, endpoints)
        self.admission = Admission(
            SETTINGS, self.dispatcher, replies, self.intake, lambda: backend_ok
        )

    @staticmethod
    async def _never(request, respond) -> None:
        await trio.sleep_forever()

    async def start(self, nursery: trio.Nursery) -> None:
        await nursery.start(self.intake.run, self.admission.handle, lambda: True)

    def replies(self, subject: str = "inbox") -> list[dict]:
        return [json.loads(item.payload) for item in self.intake.sent_to(subject)]


def ticket(deliveries: int = 1, *, poison: bool = False) -> Ticket:
    return Ticket(handle=None, request_id="d-1", deliveries=deliveries, poison=poison)


async def test_every_reply_is_counted_once_and_carries_the_instance(nursery):
    door = Door()
    await door.start(nursery)
    door.intake.submit(b"not json", kind=Kind.PROBLEMS)
    [reply] = door.replies()
    assert reply["status"] == "invalid_request" and "total" in reply  # a problems-shaped reply
    assert door.intake.sent[0].headers == {INSTANCE_HEADER: "unit"}
    assert door.metrics.by_status["invalid_request"] == 1
    assert door.endpoints[Kind.PROBLEMS].requests == 1
    assert door.endpoints[Kind.PROBLEMS].errors == 1


async def test_full_queue_refuses_core_requests_and_hands_durable_ones_back(nursery):
    door = Door()
    await door.start(nursery)
    door.intake.submit(GOOD)  # queued (no worker takes it)
    door.intake.submit(GOOD)
    assert door.replies()[-1]["status"] == "busy"
    durable = ticket()
    door.intake.submit(GOOD, reply="inbox.d", ticket=durable)
    assert door.intake.sent_to("inbox.d") == []  # never refused: it stays in the stream
    assert door.intake.deferred == [(durable, DEFER_S)]


async def test_backend_down_is_busy(nursery):
    door = Door(backend_ok=False)
    await door.start(nursery)
    door.intake.submit(GOOD)
    [reply] = door.replies()
    assert reply["status"] == "busy" and "Docker" in reply["error"]
    assert door.dispatcher.queued == 0


async def test_a_poison_request_is_dead_lettered_and_answered(nursery):
    door = Door()
    await door.start(nursery)
    poison = ticket(3, poison=True)
    door.intake.submit(GOOD, reply="inbox.p", ticket=poison)
    [dead] = door.intake.sent_to(f"{SETTINGS.dead_letter_subject}.compiler")
    assert dead.payload == GOOD and dead.headers[REPLY_HEADER] == "inbox.p"
    [answer] = door.intake.sent_to("inbox.p")
    assert json.loads(answer.payload)["status"] == "internal_error"
    assert answer.ticket is poison  # settled with its reply, never run
    assert door.dispatcher.queued == 0
