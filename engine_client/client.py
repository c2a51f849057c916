"""The client: build protocol v1 requests, send them with NATS request-reply."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError

from wire.subjects import (
    COMPILER_SUBJECT,
    DEFAULT_NATS_URL,
    MSG_ID_HEADER,
    PROBLEMS_SUBJECT,
    REPLY_HEADER,
    Kind,
    durable_subject,
    subject_for,
)

from .connection import NatsConnectError, NatsConnection, NatsSettingsError, connect, parse_servers

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


class EngineClientError(Exception):
    """The request could not be delivered or no reply came back in time."""


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
    """A protocol v1 request object (code and stdin base64-encoded)."""
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


class EngineClient:
    def __init__(self, nc: Client, *, subject: str = COMPILER_SUBJECT) -> None:
        self.nc = nc
        self.subject = subject

    @classmethod
    async def connect(
        cls,
        url: str = DEFAULT_NATS_URL,
        *,
        connection: NatsConnection | None = None,
        **kwargs: Any,
    ) -> EngineClient:
        """Connect to ``url`` (one server or a comma-separated list), or as ``connection`` says.

        ``connection`` carries credentials and TLS settings as well (it wins over ``url``).

        Raises:
            EngineClientError: NATS cannot be reached, or refused the credentials or TLS.
        """
        try:
            connection = connection or NatsConnection(servers=parse_servers(url))
            nc = await connect(connection, connect_timeout=5, max_reconnect_attempts=3)
        except (NatsConnectError, NatsSettingsError) as exc:
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
        reply: dict[str, Any] = json.loads(msg.data)
        return reply

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
        Needs engines started with ``CODE_ENGINE_DURABLE=1``.
        """
        request = dict(request)
        request.setdefault("id", uuid.uuid4().hex)
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, max_msgs=1)
        try:
            js = self.nc.jetstream()
            await js.publish(
                DURABLE_SUBJECTS[subject or self.subject],
                json.dumps(request).encode(),
                headers={MSG_ID_HEADER: str(request["id"]), REPLY_HEADER: inbox},
            )
            try:
                msg = await sub.next_msg(timeout=timeout)
            except TimeoutError:
                raise EngineClientError(f"no reply within {timeout} s") from None
        finally:
            await sub.unsubscribe()
        reply: dict[str, Any] = json.loads(msg.data)
        return reply

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
