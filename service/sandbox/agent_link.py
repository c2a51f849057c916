"""The host's end of the agent protocol, spoken over a container's attach stream.

The agent (the ``agent`` package) is the container's main process. It reads
one message per line on its stdin and writes one per line on its stdout
(:mod:`agent.protocol` defines them, for both ends); Docker multiplexes the
container's stdout and stderr into frames on the attach stream. This module
turns that into ``send(message)`` / ``receive() -> message``, decoding each line
once. The agent's stderr carries its own diagnostics and is logged, never parsed.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, TypeVar

import msgspec

from agent import protocol
from agent.protocol import AgentMessage, HostMessage

from ..errors import AgentError

log = logging.getLogger(__name__)

STDOUT = 1
STDERR = 2
_MAX_LINE = 256 << 20  # a result is bounded by the output caps; this is a safety net


class FrameStream(Protocol):
    """What the link needs from :class:`docker_api.AttachStream` (and its fakes)."""

    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


M = TypeVar("M", bound=AgentMessage)


class AgentLink:
    """One agent's message channel.

    Not safe for concurrent use: a container serves one job at a time, and the
    pool hands a container (and so its link) to one worker at a time.
    """

    def __init__(self, stream: FrameStream, container_id: str) -> None:
        self._stream = stream
        self._container_id = container_id
        self._messages = protocol.MessageBuffer(self._parse)
        self._stderr = bytearray()

    async def send(self, message: HostMessage) -> None:
        """Send one message.

        Raises:
            AgentError: the stream is gone.
        """
        try:
            await self._stream.send(protocol.encode(message))
        except Exception as exc:  # the stream's own error tree; all mean "gone"
            raise AgentError(self._container_id, f"send failed: {exc!r}") from exc

    async def receive(self) -> AgentMessage:
        """The next message from the agent.

        Raises:
            AgentError: the stream closed, or the agent wrote something that is not
                one of its messages.
        On cancellation nothing is lost that a later call could use: a partial
        line, or a line waiting for its program's bytes, stays buffered (the
        caller replaces the container anyway).
        """
        while True:
            try:
                parsed = self._messages.next()
                if parsed is not None:
                    return protocol.agent_message_from(parsed)
            except protocol.ProtocolError as exc:
                raise AgentError(self._container_id, f"bad message: {exc}") from None
            if len(self._messages) > _MAX_LINE:
                raise AgentError(self._container_id, "message larger than the line limit")
            try:
                kind, payload = await self._stream.receive()
            except Exception as exc:  # StreamClosed and transport failures
                raise AgentError(self._container_id, f"stream ended: {exc!r}") from exc
            if kind == STDERR:
                self._log_stderr(payload)
            else:
                self._messages.feed(payload)

    async def request(self, message: HostMessage, expect: type[M]) -> M:
        """Send ``message`` and return the first reply of type ``expect``.

        Raises:
            AgentError: the stream ended, or the agent answered with an error.
        """
        await self.send(message)
        return await self.receive_type(expect)

    async def receive_type(self, expect: type[M]) -> M:
        """The next message of type ``expect`` (others are skipped).

        Raises:
            AgentError: the stream ended, or the agent answered with an error.
        """
        while True:
            reply = await self.receive()
            if isinstance(reply, expect):
                return reply
            if isinstance(reply, protocol.Error):
                raise AgentError(self._container_id, f"agent refused: {reply.message}")
            log.debug("agent %s: skipping %s message", self._container_id[:12], reply.TYPE)

    async def wait_closed(self) -> str:
        """Read until the stream ends, for a container that has no job; return why it ended.

        Nothing is expected from an idle agent: a message that arrives anyway is
        logged and dropped, its stderr logged as always. Cancelling is safe (the
        link is used again by the next job).
        """
        while True:
            try:
                message = await self.receive()
            except AgentError as exc:
                return exc.reason
            log.warning(
                "agent %s: unexpected %s message while idle", self._container_id[:12], message.TYPE
            )

    async def aclose(self) -> None:
        await self._stream.aclose()

    def _parse(self, line: bytes) -> dict[str, Any]:
        """A line's object (the protocol module checks the rest)."""
        # msgspec parses faster than json.
        try:
            parsed = msgspec.json.decode(line)
        except msgspec.DecodeError:
            raise AgentError(self._container_id, f"unparseable line {line[:80]!r}") from None
        if not isinstance(parsed, dict):
            raise AgentError(self._container_id, f"bad message: not an object {line[:80]!r}")
        return parsed

    def _log_stderr(self, payload: bytes) -> None:
        self._stderr += payload
        while (end := self._stderr.find(b"\n")) >= 0:
            line = self._stderr[:end].decode("utf-8", "replace")
            del self._stderr[: end + 1]
            log.info("agent %s: %s", self._container_id[:12], line[:500])
        if len(self._stderr) > 4096:
            del self._stderr[:]
