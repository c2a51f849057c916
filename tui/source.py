"""Where the dashboard's stats come from, and where its admin requests go.

A `StatsSource` has two halves: `run(post)` runs until cancelled and posts
`StatsReceived`, `SnapshotRejected` and `ConnectionChanged` messages; `admin(instance,
body)` sends one admin request and returns the decoded JSON reply, or raises an
`AdminError`. `NatsStatsSource` is the real one; `FakeStatsSource` is driven by hand
(tests, screenshots) and records the admin requests it gets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from textual.message import Message

from .messages import ConnectionChanged, SnapshotRejected, StatsReceived
from .model import Snapshot

STATS_SUBJECTS = "code-engine.stats.*"
ADMIN_PREFIX = "code-engine.admin."

Post = Callable[[Message], object]
JSONObject = dict[str, Any]


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

    async def admin(self, instance: str, body: Mapping[str, Any]) -> JSONObject:
        """Send `body` to `instance`'s admin subject and return the reply object.

        Raises:
            AdminError: no reply, or a reply that is not a JSON object.
        """
        ...


def admin_subject(instance: str) -> str:
    return ADMIN_PREFIX + instance


def decode_snapshot(subject: str, payload: bytes) -> Message:
    """Turn one stats payload into `StatsReceived`, or `SnapshotRejected` saying why not."""
    try:
        return StatsReceived(Snapshot.from_wire(json.loads(payload)))
    except ValueError as exc:  # bad UTF-8, bad JSON, or not a snapshot
        return SnapshotRejected(subject, str(exc))


def decode_reply(payload: bytes) -> JSONObject:
    try:
        reply = json.loads(payload)
    except ValueError:
        raise AdminError("the reply is not JSON") from None
    if not isinstance(reply, dict):
        raise AdminError("the reply is not a JSON object")
    return reply


class NatsStatsSource:
    """Subscribes to every instance's stats and sends admin requests over NATS.

    The connection retries for ever, at start-up as after a loss, and each change is
    posted as a `ConnectionChanged` so that the screen can say what is going on.
    """

    def __init__(
        self, url: str, *, admin_timeout: float = 3.0, reconnect_wait: float = 1.0
    ) -> None:
        self.url = url
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
                self.url,
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

    async def admin(self, instance: str, body: Mapping[str, Any]) -> JSONObject:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise NotConnected(f"not connected to {self.url}")
        subject = admin_subject(instance)
        try:
            msg = await nc.request(subject, json.dumps(body).encode(), timeout=self.admin_timeout)
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


_STATE_AFTER = {"pause": "paused", "resume": "running", "drain": "draining"}


class FakeStatsSource:
    """A stats source driven by hand.

    Messages pushed before `run` starts are kept and posted when it does. Admin
    requests are recorded in `admin_requests`; the reply is `reply(instance, body)`,
    or `admin_error` is raised when set.
    """

    def __init__(self, url: str = "nats://127.0.0.1:4222", *, connected: bool = True) -> None:
        self.url = url
        self.admin_requests: list[tuple[str, JSONObject]] = []
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

    def push(self, snapshot: Mapping[str, Any] | bytes, subject: str | None = None) -> None:
        """Deliver one stats message, as a JSON object or as raw bytes."""
        payload = snapshot if isinstance(snapshot, bytes) else json.dumps(snapshot).encode()
        if subject is None:
            instance = snapshot.get("instance") if isinstance(snapshot, Mapping) else None
            subject = f"code-engine.stats.{instance or 'unknown'}"
        self._emit(decode_snapshot(subject, payload))

    def connect(self, detail: str | None = None) -> None:
        self._emit(ConnectionChanged(True, detail or f"connected to {self.url}"))

    def disconnect(self, detail: str | None = None) -> None:
        self._emit(
            ConnectionChanged(False, detail or f"disconnected from {self.url} — reconnecting…")
        )

    def reply(self, instance: str, body: JSONObject) -> JSONObject:
        return {
            "ok": True,
            "state": _STATE_AFTER.get(str(body.get("action")), "running"),
            "error": None,
        }

    async def admin(self, instance: str, body: Mapping[str, Any]) -> JSONObject:
        request = dict(body)
        self.admin_requests.append((instance, request))
        if self.admin_error is not None:
            raise self.admin_error
        return self.reply(instance, request)
