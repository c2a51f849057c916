"""Where the dashboard's stats come from, and where its admin requests go.

A `StatsSource` has two halves: `run(post)` runs until cancelled and posts
`StatsReceived`, `SnapshotRejected` and `ConnectionChanged` messages; `admin(instance,
request)` sends one admin request and returns the decoded reply, or raises an
`AdminError`. `NatsStatsSource` is the real one; `FakeStatsSource` is driven by hand
(tests, screenshots) and records the admin requests it gets. Both decode what they
receive with :mod:`wire`, so a fake snapshot goes through the same checks as a real one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from textual.message import Message

from wire.admin import AdminAction, AdminReply, AdminRequest, EngineState, encode_request
from wire.admin import decode_reply as decode_admin_reply
from wire.connection import NatsConnection, describe_refusal, is_refusal, parse_servers
from wire.errors import AdminReplyError, SnapshotError
from wire.stats import Snapshot, encode_snapshot
from wire.subjects import DEFAULT_NATS_URL, admin_subject, stats_subject

from .messages import ConnectionChanged, SnapshotRejected, StatsReceived
from .model import decode_snapshot as decode_stats

STATS_SUBJECTS = stats_subject("*")

Post = Callable[[Message], object]


class AdminError(Exception):
    """An admin request got no usable reply.

    AdminError
    ├── NotConnected   no link to the message bus right now
    ├── NoResponder    nothing listens on the instance's admin subject
    └── AdminTimeout   the instance did not answer in time
    """


class NotConnected(AdminError):
    pass


class NoResponder(AdminError):
    pass


class AdminTimeout(AdminError):
    pass


class StatsSource(Protocol):
    async def run(self, post: Post) -> None:
        """Post stats and connection messages until cancelled."""
        ...

    async def admin(self, instance: str, request: AdminRequest) -> AdminReply:
        """Send `request` to `instance`'s admin subject and return its reply.

        Raises:
            AdminError: no reply, or a reply that is not an admin reply.
        """
        ...


def decode_snapshot(subject: str, payload: bytes) -> Message:
    """Turn one stats payload into `StatsReceived`, or `SnapshotRejected` saying why not."""
    try:
        return StatsReceived(decode_stats(payload))
    except SnapshotError as exc:
        return SnapshotRejected(subject, str(exc))


def decode_reply(payload: bytes) -> AdminReply:
    """Read an admin reply.

    Raises:
        AdminError: the payload is not an admin reply.
    """
    try:
        return decode_admin_reply(payload)
    except AdminReplyError as exc:
        raise AdminError(str(exc)) from None


class NatsStatsSource:
    """Subscribes to every instance's stats and sends admin requests over NATS.

    The connection retries for ever, at start-up as after a loss, and each change is
    posted as a `ConnectionChanged` so that the screen can say what is going on.
    """

    def __init__(
        self,
        nats: str | NatsConnection,
        *,
        admin_timeout: float = 3.0,
        reconnect_wait: float = 1.0,
    ) -> None:
        self.connection = (
            nats if isinstance(nats, NatsConnection) else NatsConnection(parse_servers(nats))
        )
        self.url = self.connection.describe()  # what the screen shows: never a secret
        self.admin_timeout = admin_timeout
        self.reconnect_wait = reconnect_wait
        self._nc: Client | None = None

    async def run(self, post: Post) -> None:
        nc = Client()
        lost = f"disconnected from {self.url} — reconnecting…"
        ever_connected = False

        async def on_error(exc: Exception) -> None:
            if nc.is_connected:
                return
            if is_refusal(exc):
                # Retried all the same (the settings may be fixed on the server's side).
                post(ConnectionChanged(False, f"{self.url}: {describe_refusal(exc)} — retrying…"))
                return
            if ever_connected:
                post(ConnectionChanged(False, f"{lost} ({_describe(exc)})"))
            else:
                post(
                    ConnectionChanged(
                        False, f"cannot reach {self.url} — retrying… ({_describe(exc)})"
                    )
                )

        async def on_disconnected() -> None:
            if not nc.is_closed:
                post(ConnectionChanged(False, lost))

        async def on_reconnected() -> None:
            post(ConnectionChanged(True, f"connected to {self.url}"))

        async def on_stats(msg: Msg) -> None:
            post(decode_snapshot(msg.subject, msg.data))

        post(ConnectionChanged(False, f"connecting to {self.url}…"))
        try:
            await nc.connect(
                **self.connection.options(),
                name="code-engine-tui",
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                max_reconnect_attempts=-1,
                reconnect_time_wait=self.reconnect_wait,  # type: ignore[arg-type]
                connect_timeout=2,
            )
            await nc.subscribe(STATS_SUBJECTS, cb=on_stats)
            self._nc = nc
            ever_connected = True
            post(ConnectionChanged(True, f"connected to {self.url}"))
            await asyncio.Event().wait()  # until the worker is cancelled
        finally:
            self._nc = None
            await nc.close()

    async def admin(self, instance: str, request: AdminRequest) -> AdminReply:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise NotConnected(f"not connected to {self.url}")
        subject = admin_subject(instance)
        try:
            msg = await nc.request(subject, encode_request(request), timeout=self.admin_timeout)
        except nats.errors.NoRespondersError:
            raise NoResponder(f"nothing answers on {subject}") from None
        except nats.errors.TimeoutError:
            raise AdminTimeout(
                f"{instance} did not answer within {self.admin_timeout:g} s"
            ) from None
        except nats.errors.Error as exc:
            raise AdminError(_describe(exc)) from None
        return decode_reply(msg.data)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_STATE_AFTER = {
    AdminAction.PAUSE: EngineState.PAUSED,
    AdminAction.RESUME: EngineState.RUNNING,
    AdminAction.DRAIN: EngineState.DRAINING,
}

FakeReply = AdminReply | dict[str, Any] | bytes


class FakeStatsSource:
    """A stats source driven by hand.

    Messages pushed before `run` starts are kept and posted when it does. Admin
    requests are recorded in `admin_requests`, as the JSON objects sent; the reply is
    `reply(instance, request)` (an `AdminReply`, or a JSON object or bytes to check
    how a bad reply is taken), or `admin_error` is raised when set.
    """

    def __init__(self, url: str = DEFAULT_NATS_URL, *, connected: bool = True) -> None:
        self.url = url
        self.admin_requests: list[tuple[str, dict[str, Any]]] = []
        self.admin_error: AdminError | None = None
        self._post: Post | None = None
        self._backlog: list[Message] = []
        if connected:
            self.connect()

    async def run(self, post: Post) -> None:
        self._post = post
        backlog, self._backlog = self._backlog, []
        for message in backlog:
            post(message)
        try:
            await asyncio.Event().wait()
        finally:
            self._post = None

    def _emit(self, message: Message) -> None:
        if self._post is None:
            self._backlog.append(message)
        else:
            self._post(message)

    def push(self, snapshot: Snapshot | bytes, subject: str | None = None) -> None:
        """Deliver one stats message: a snapshot (encoded, then decoded) or raw bytes."""
        if isinstance(snapshot, bytes):
            payload = snapshot
            subject = subject or stats_subject("unknown")
        else:
            payload = encode_snapshot(snapshot)
            subject = subject or stats_subject(snapshot.instance)
        self._emit(decode_snapshot(subject, payload))

    def connect(self, detail: str | None = None) -> None:
        self._emit(ConnectionChanged(True, detail or f"connected to {self.url}"))

    def disconnect(self, detail: str | None = None) -> None:
        self._emit(
            ConnectionChanged(False, detail or f"disconnected from {self.url} — reconnecting…")
        )

    def reply(self, instance: str, request: AdminRequest) -> FakeReply:
        return AdminReply(
            ok=True, state=_STATE_AFTER.get(request.action, EngineState.RUNNING), error=None
        )

    async def admin(self, instance: str, request: AdminRequest) -> AdminReply:
        self.admin_requests.append((instance, msgspec.to_builtins(request)))
        if self.admin_error is not None:
            raise self.admin_error
        reply = self.reply(instance, request)
        return decode_reply(reply if isinstance(reply, bytes) else msgspec.json.encode(reply))
