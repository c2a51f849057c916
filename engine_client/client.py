"""The client: build requests of the protocol (version 2), send them with NATS request-reply."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import uuid
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError, TimeoutError
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from wire.connection import (
    NatsConnectError,
    NatsConnection,
    NatsSettingsError,
    connect,
    parse_servers,
)
from wire.subjects import (
    COMPILER_SUBJECT,
    DEFAULT_NATS_URL,
    MSG_ID_HEADER,
    PROBLEMS_SUBJECT,
    REPLIES_BUCKET,
    REPLY_HEADER,
    REPLY_TOKEN_HEADER,
    Kind,
    durable_subject,
    reply_key,
    subject_for,
)

__all__ = [
    "COMPILER_SUBJECT",
    "DEFAULT_NATS_URL",
    "DEFAULT_TIMEOUT_S",
    "DURABLE_SUBJECTS",
    "PROBLEMS_SUBJECT",
    "REPLY_HEADER",
    "EngineClient",
    "EngineClientError",
    "build_request",
]

# Where a durable request goes, by the subject it would take as a plain one.
DURABLE_SUBJECTS = {subject_for(kind): durable_subject(kind) for kind in Kind}
DEFAULT_TIMEOUT_S = 60.0
PUBLISH_TIMEOUT_S = 2.0  # one try at storing a durable request
REPLY_POLL_S = 2.0  # how often a durable submitter looks for a kept reply


class EngineClientError(Exception):
    """The request could not be delivered, no reply came back in time, or what came is not one."""


def _decode_reply(data: bytes) -> dict[str, Any]:
    """A reply as the dict it should be.

    Raises:
        EngineClientError: not a JSON object (or nested too deeply to read at all).
    """
    try:
        reply = json.loads(data)
    except RecursionError:
        raise EngineClientError("the reply is nested too deeply to read") from None
    except ValueError as exc:  # not UTF-8, or not JSON
        raise EngineClientError(f"the reply is not JSON: {exc}") from None
    if not isinstance(reply, dict):
        raise EngineClientError(f"the reply is not a JSON object but {type(reply).__name__}")
    return reply


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def build_request(
    language: str,
    code: str | bytes,
    *,
    stdin: str | bytes = b"",
    args: list[str] | None = None,
    request_id: str | None = None,
    timeout_ms: int | None = None,
    memory_mb: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A request object (code and stdin base64-encoded; docs/reference/protocol.md)."""
    request: dict[str, Any] = {"language": language, "code": _b64(code)}
    if stdin:
        request["stdin"] = _b64(stdin)
    if args:
        request["args"] = list(args)
    if request_id is not None:
        request["id"] = request_id
    if timeout_ms is not None:
        request["timeout_ms"] = timeout_ms
    if memory_mb is not None:
        request["memory_mb"] = memory_mb
    request.update(extra)
    return request


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is nats-server running there?)"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    return str(error) or type(error).__name__


class EngineClient:
    def __init__(self, nc: Client, *, subject: str = COMPILER_SUBJECT) -> None:
        self.nc = nc
        self.subject = subject
        self._replies: KeyValue | None = None

    @classmethod
    async def connect(
        cls,
        url: str = DEFAULT_NATS_URL,
        *,
        connection: NatsConnection | None = None,
        attempts: int = 3,
        retry_wait_s: float = 2.0,
        **kwargs: Any,
    ) -> EngineClient:
        """Connect to ``url`` (one server or a comma-separated list), or as ``connection`` says.

        ``connection`` carries credentials and TLS settings as well (it wins over
        ``url``). ``attempts`` retries ``retry_wait_s`` apart, here and later.

        Raises:
            EngineClientError: NATS cannot be reached, or refused the credentials
                or TLS (the message says why, in one line).
        """
        seen: list[BaseException] = []

        async def note(error: BaseException) -> None:
            # Instead of nats-py's default, which logs a traceback for each attempt.
            seen.append(error)

        try:
            connection = connection or NatsConnection(servers=parse_servers(url))
            nc = await connect(
                connection,
                error_cb=note,
                connect_timeout=5,
                max_reconnect_attempts=attempts,
                reconnect_time_wait=retry_wait_s,
            )
        except NatsSettingsError as exc:
            raise EngineClientError(str(exc)) from None
        except NatsConnectError as exc:
            if seen:  # unreachable (a refusal never reaches ``note``): say why, plainly
                where = connection.describe() if connection else url
                raise EngineClientError(
                    f"cannot connect to NATS at {where}: {_describe(seen[-1])}"
                ) from None
            raise EngineClientError(str(exc)) from None
        return cls(nc, **kwargs)

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.nc.close()

    async def send(
        self,
        request: dict[str, Any] | bytes,
        *,
        subject: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Send a request object (or raw bytes) and return the decoded reply."""
        payload = request if isinstance(request, bytes) else json.dumps(request).encode()
        try:
            msg = await self.nc.request(subject or self.subject, payload, timeout=timeout)
        except NoRespondersError:
            raise EngineClientError("no code-engine is listening on that subject") from None
        except TimeoutError:
            raise EngineClientError(f"no reply within {timeout} s") from None
        return _decode_reply(msg.data)

    async def submit_durable(
        self,
        request: dict[str, Any],
        *,
        subject: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Send a request through the engine's JetStream work queue and wait for the reply.

        The request is stored before this returns from the publish, so it survives
        an engine restart; its ``id`` (generated when absent) is the deduplication
        key: submitting the same id again within the stream's window runs it once.
        A publish that fails (a node lost, a leader being elected) is retried with
        the same id until ``timeout``. The request carries a secret token; the
        engine also keeps the reply under its hash, and a reply missed on the inbox
        (sent while this client was reconnecting) is fetched from there.
        Needs engines started with ``CODE_ENGINE_DURABLE=1``.

        Raises:
            EngineClientError: not stored, or no reply, within ``timeout``; or a reply
                that is not a JSON object.
        """
        request = dict(request)
        request.setdefault("id", uuid.uuid4().hex)
        token = secrets.token_urlsafe(24)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, max_msgs=1)
        try:
            js = self.nc.jetstream()
            headers = {MSG_ID_HEADER: str(request["id"]), REPLY_HEADER: inbox}
            headers[REPLY_TOKEN_HEADER] = token
            await self._publish_durable(
                js,
                DURABLE_SUBJECTS[subject or self.subject],
                json.dumps(request).encode(),
                headers,
                deadline,
            )
            data = await self._await_durable_reply(js, sub, reply_key(token), deadline)
        finally:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection went away meanwhile
                pass
        if data is None:
            raise EngineClientError(f"no reply within {timeout} s")
        return _decode_reply(data)

    @staticmethod
    async def _publish_durable(
        js: JetStreamContext, subject: str, payload: bytes, headers: dict[str, str], deadline: float
    ) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.05
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise EngineClientError("the durable request could not be stored in time")
            try:
                await js.publish(
                    subject, payload, timeout=min(PUBLISH_TIMEOUT_S, left), headers=headers
                )
                return
            except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                if isinstance(exc, nats.js.errors.BadRequestError):
                    raise EngineClientError(f"the durable request was refused: {exc}") from None
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 1.0)

    async def _await_durable_reply(
        self, js: JetStreamContext, sub: Subscription, key: str, deadline: float
    ) -> bytes | None:
        """The reply from the inbox, or else from the kept replies; None by the deadline."""
        loop = asyncio.get_running_loop()
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await sub.next_msg(timeout=min(REPLY_POLL_S, left))
                return bytes(msg.data)
            except TimeoutError:
                pass
            except nats.errors.Error:  # reconnecting: look in the bucket, then wait again
                await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
            kept = await self._kept_reply(js, key)
            if kept is not None:
                return kept
        return None

    async def _kept_reply(self, js: JetStreamContext, key: str) -> bytes | None:
        try:
            if self._replies is None:
                self._replies = await js.key_value(REPLIES_BUCKET)
            entry = await self._replies.get(key)
        except (nats.errors.Error, nats.js.errors.Error, OSError):
            return None  # not there (yet), or no bucket: an older engine
        return bytes(entry.value) if entry.value is not None else None

    async def execute(
        self,
        language: str,
        code: str | bytes,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        subject: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Run code and return the reply (``status``, ``output``, ``error``, ...)."""
        return await self.send(
            build_request(language, code, **fields), subject=subject, timeout=timeout
        )
