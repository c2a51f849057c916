"""The durable consumer against an in-memory JetStream: done-bucket, poison, ack after reply.

nats-py is asyncio; the consumer crosses into it with trio-asyncio, so the fakes
here are asyncio objects served from a real trio-asyncio loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace

import nats.errors
import nats.js.errors
import trio
import trio_asyncio

from service.config import Settings
from service.intake.base import Incoming
from service.intake.durable import DurableConsumer
from wire import Kind
from wire.subjects import (
    MSG_ID_HEADER,
    REPLY_HEADER,
    REPLY_TOKEN_HEADER,
    durable_subject,
    reply_key,
)

SETTINGS = Settings.from_env({}, instance_id="unit", durable_max_deliver=3)


@dataclass(eq=False)
class FakeMsg:
    subject: str
    data: bytes
    headers: dict[str, str]
    delivered: int = 1
    ack_failures: int = 0  # acknowledgements that time out first (a leader change)
    events: list[str] = field(default_factory=list)
    settled: trio.Event = field(default_factory=trio.Event)

    @property
    def metadata(self) -> SimpleNamespace:
        return SimpleNamespace(num_delivered=self.delivered)

    async def ack(self) -> None:
        self.events.append("ack")
        self.settled.set()

    async def ack_sync(self, timeout: float = 1.0) -> None:
        if self.ack_failures:
            self.ack_failures -= 1
            raise nats.errors.TimeoutError
        await self.ack()

    async def term(self) -> None:
        self.events.append("term")
        self.settled.set()

    async def nak(self, delay: float | None = None) -> None:
        self.events.append(f"nak {delay}")

    async def in_progress(self) -> None:
        self.events.append("in_progress")


class FakeKV:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes:
        if key not in self.data:
            raise nats.js.errors.KeyNotFoundError
        return self.data[key]

    async def put(self, key: str, value: bytes) -> None:
        self.data[key] = value


class FakeSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[FakeMsg] = asyncio.Queue()

    async def fetch(self, batch: int, timeout: float) -> list[FakeMsg]:
        try:
            return [await asyncio.wait_for(self.queue.get(), timeout)]
        except TimeoutError:
            raise nats.errors.TimeoutError from None


class FakeJetStream:
    def __init__(self) -> None:
        self.kv = FakeKV()
        self.replies = FakeKV()
        self.buckets: dict[str, dict[str, object]] = {}
        self.sub = FakeSubscription()
        self.streams: list[object] = []

    async def add_stream(self, config: object) -> None:
        self.streams.append(config)

    async def update_stream(self, config: object) -> None:
        self.streams.append(config)

    async def create_key_value(self, **kwargs: object) -> FakeKV:
        self.buckets[str(kwargs["bucket"])] = kwargs
        return self.kv if kwargs["bucket"] == "code-engine-done" else self.replies

    async def pull_subscribe(self, subject: str, **kwargs: object) -> FakeSubscription:
        return self.sub


class FakeClient:
    def __init__(self) -> None:
        self.js = FakeJetStream()

    def jetstream(self) -> FakeJetStream:
        return self.js


def durable_msg(request_id: str, *, delivered: int = 1, reply: str | None = "inbox.1") -> FakeMsg:
    headers = {MSG_ID_HEADER: request_id}
    if reply:
        headers[REPLY_HEADER] = reply
    return FakeMsg(durable_subject(Kind.COMPILER), b"{}", headers, delivered)


class Harness:
    def __init__(self) -> None:
        self.client = FakeClient()
        self.delivered: list[Incoming] = []
        self.arrived = trio.Event()
        self.room = True
        self.room_asked = 0
        self.asked_often = trio.Event()
        self.consumer = DurableConsumer(SETTINGS, self._deliver, self._has_room)

    def _has_room(self) -> bool:
        self.room_asked += 1
        if self.room_asked >= 10:
            self.asked_often.set()
        return self.room

    def _deliver(self, incoming: Incoming) -> None:
        self.delivered.append(incoming)
        self.arrived.set()

    async def next_delivery(self) -> Incoming:
        with trio.fail_after(5):
            await self.arrived.wait()
        self.arrived = trio.Event()
        return self.delivered[-1]

    def put(self, msg: FakeMsg) -> None:
        self.client.js.sub.queue.put_nowait(msg)


async def run_consumer(harness: Harness, nursery: trio.Nursery) -> None:
    await nursery.start(harness.consumer.run, harness.client)


async def test_a_delivery_is_acknowledged_only_after_complete_and_never_run_twice():
    harness = Harness()
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        first = durable_msg("job-1")
        harness.put(first)
        incoming = await harness.next_delivery()
        assert (incoming.kind, incoming.reply, incoming.poison) == (Kind.COMPILER, "inbox.1", False)
        assert first.events == []  # not acknowledged while it runs
        assert incoming.ticket is not None
        await harness.consumer.complete(incoming.ticket)
        assert first.events == ["ack"]
        # A redelivery of an answered id is acknowledged without being run again.
        again = durable_msg("job-1", delivered=2)
        harness.put(again)
        with trio.fail_after(5):
            await again.settled.wait()
        assert again.events == ["ack"]
        assert len(harness.delivered) == 1
        nursery.cancel_scope.cancel()


async def test_the_last_allowed_delivery_is_marked_poison():
    harness = Harness()
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        harness.put(durable_msg("job-2", delivered=SETTINGS.durable_max_deliver))
        incoming = await harness.next_delivery()
        assert incoming.poison
        nursery.cancel_scope.cancel()


async def test_a_message_without_a_reply_subject_is_terminated():
    harness = Harness()
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        orphan = durable_msg("job-3", reply=None)
        harness.put(orphan)
        harness.put(durable_msg("job-4"))
        assert (await harness.next_delivery()).ticket.request_id == "job-4"
        assert orphan.events == ["term"]
        nursery.cancel_scope.cancel()


async def test_deferred_deliveries_are_handed_back_with_their_delay():
    harness = Harness()
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        msg = durable_msg("job-5")
        harness.put(msg)
        incoming = await harness.next_delivery()
        await harness.consumer.defer(incoming.ticket, 1.0)
        assert msg.events == ["nak 1.0"]
        nursery.cancel_scope.cancel()


async def test_nothing_is_pulled_while_the_engine_has_no_room():
    harness = Harness()
    harness.room = False
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        harness.put(durable_msg("job-6"))
        with trio.fail_after(5):
            await harness.asked_often.wait()  # it kept asking, and pulled nothing
        assert harness.delivered == []
        harness.room = True
        assert (await harness.next_delivery()).ticket.request_id == "job-6"
        nursery.cancel_scope.cancel()


async def test_replicas_for_the_stream_and_both_buckets():
    harness = Harness()
    harness.consumer = DurableConsumer(
        Settings.from_env({}, instance_id="unit", durable_replicas=3, durable_reply_ttl_s=60.0),
        harness._deliver,
        harness._has_room,
    )
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        js = harness.client.js
        assert js.streams[0].num_replicas == 3
        assert js.buckets["code-engine-done"]["replicas"] == 3
        assert js.buckets["code-engine-replies"] == {
            "bucket": "code-engine-replies",
            "ttl": 60.0,
            "replicas": 3,
        }
        nursery.cancel_scope.cancel()


async def test_the_reply_is_kept_under_the_token_hash_and_the_ack_retried(autojump_clock):
    harness = Harness()
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        msg = durable_msg("job-7")
        msg.headers[REPLY_TOKEN_HEADER] = "the-submitters-secret"
        msg.ack_failures = 2  # the consumer's leader is being elected
        harness.put(msg)
        incoming = await harness.next_delivery()
        await harness.consumer.complete(incoming.ticket, b'{"status": "ok"}')
        assert msg.events == ["ack"]
        assert harness.consumer.settle_retries == 2
        kept = harness.client.js.replies.data
        assert kept == {reply_key("the-submitters-secret"): b'{"status": "ok"}'}
        assert "job-7" not in next(iter(kept))  # the key is not the request id
        nursery.cancel_scope.cancel()


class ElectingJetStream(FakeJetStream):
    """A cluster still electing its meta leader: the first API requests fail."""

    def __init__(self, failures: list[Exception]) -> None:
        super().__init__()
        self.failures = failures

    async def add_stream(self, config: object) -> None:
        if self.failures:
            raise self.failures.pop(0)
        await super().add_stream(config)


async def test_the_set_up_waits_for_a_jetstream_that_cannot_answer_yet(monkeypatch):
    monkeypatch.setattr("service.intake.durable.SET_UP_FIRST_DELAY_S", 0.01)
    harness = Harness()
    failures: list[Exception] = [
        nats.errors.TimeoutError(),
        nats.js.errors.ServiceUnavailableError(),
    ]
    harness.client.js = ElectingJetStream(failures)
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await run_consumer(harness, nursery)
        assert failures == [] and len(harness.client.js.streams) == 1
        harness.put(durable_msg("job-after-election"))
        assert (await harness.next_delivery()).reply == "inbox.1"
        nursery.cancel_scope.cancel()


async def set_up_failure(harness: Harness) -> BaseExceptionGroup:
    """What the consumer's start raised (as a group), or fail the test if it started."""
    async with trio_asyncio.open_loop():
        try:
            async with trio.open_nursery() as nursery:
                await run_consumer(harness, nursery)
        except BaseException as exc:
            return exc if isinstance(exc, BaseExceptionGroup) else BaseExceptionGroup("", [exc])
    raise AssertionError("the set-up did not fail")


async def test_a_jetstream_that_never_answers_fails_the_set_up(monkeypatch):
    monkeypatch.setattr("service.intake.durable.SET_UP_FIRST_DELAY_S", 0.01)
    monkeypatch.setattr("service.intake.durable.SET_UP_TIMEOUT_S", 0.1)
    harness = Harness()
    harness.client.js = ElectingJetStream([nats.errors.TimeoutError() for _ in range(100)])
    failure = await set_up_failure(harness)
    assert failure.subgroup(nats.errors.TimeoutError) is not None, failure


async def test_a_server_without_jetstream_fails_the_set_up_at_once():
    harness = Harness()
    failures: list[Exception] = [nats.errors.NoRespondersError(), nats.errors.TimeoutError()]
    harness.client.js = ElectingJetStream(failures)
    failure = await set_up_failure(harness)
    assert failure.subgroup(nats.errors.NoRespondersError) is not None, failure
    assert len(failures) == 1  # not asked again
