"""The one place lines become messages, and messages lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .agent_messages import AGENT_TYPES, AgentMessage
from .fields import ProtocolError, as_object
from .host_messages import HOST_TYPES, HostMessage

# Bumped whenever a message changes shape; the host refuses an agent that
# announces another version (an image built from another checkout).
PROTOCOL_VERSION = 11

# A compiled program (2 MB for Go) travels raw, right after its message's line,
# which gives its length in bytes in its ``program`` field (see encode): as
# base64 inside the JSON it cost both ends an encoding, a parse and a decoding of
# 2.8 MB for every run of a cached Go program. No program is larger than this.
PROGRAM_LIMIT = 64 << 20


Message = HostMessage | AgentMessage


def encode(message: Message) -> bytes:
    """One message as one line (with its newline), then its program's bytes, if any."""
    line = json.dumps(message.to_wire(), separators=(",", ":")).encode() + b"\n"
    program: bytes | None = getattr(message, "program", None)
    return line if program is None else line + program


def parse_line(line: bytes | str) -> dict[str, Any]:
    """A message's line as its JSON object, for :func:`attachment_size` and ``*_message_from``.

    Raises:
        ProtocolError: not a JSON object.
    """
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad json: {exc}") from None
    return as_object(obj, "a message")


def attachment_size(obj: dict[str, Any]) -> int | None:
    """How many raw bytes (a program's) follow the line ``obj`` came from; None: no program.

    A reader of a stream reads that many bytes next, puts them in ``obj`` with
    :func:`attach`, and then makes the message.

    Raises:
        ProtocolError: the size is not one; the stream can no longer be read.
    """
    size = obj.get("program")
    if size is None or isinstance(size, bytes):
        return None
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= PROGRAM_LIMIT:
        raise ProtocolError(f"program must be a size of at most {PROGRAM_LIMIT} bytes")
    return size


def attach(obj: dict[str, Any], program: bytes) -> None:
    """Put the bytes that followed ``obj``'s line in place of their size.

    Raises:
        ProtocolError: not as many bytes as the line said (the stream ended).
    """
    size = attachment_size(obj)
    if size is None or len(program) != size:
        raise ProtocolError(f"program: {size} bytes announced, {len(program)} read")
    obj["program"] = program


class MessageBuffer:
    """Messages out of a byte stream, as :func:`encode` wrote them, however it is cut.

    :meth:`feed` what arrives; :meth:`next` gives each whole message's object,
    its program attached, for ``*_message_from``. A line waiting for its
    program's bytes stays here until they are in. ``parse`` turns a line into
    its object (:func:`parse_line`, or a faster parser that checks as much).
    """

    def __init__(self, parse: Callable[[bytes], dict[str, Any]] = parse_line) -> None:
        self._parse = parse
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline
        self._pending: tuple[dict[str, Any], int | None] | None = None  # a line read

    def __len__(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> dict[str, Any] | None:
        """The next whole message's object, or None until more of it arrives.

        Raises:
            ProtocolError: a line that is no message, or a size that is none.
        """
        while self._pending is None:
            # Only what arrived since the last look: scanning a long line all
            # again at each piece would be quadratic.
            end = self._buffer.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self._buffer)
                return None
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scanned = 0
            if line.strip():
                obj = self._parse(line)
                self._pending = obj, attachment_size(obj)
        obj, size = self._pending
        if size is not None:
            # A program's raw bytes follow its line (2 MB for Go, in many pieces).
            if len(self._buffer) < size:
                return None
            with memoryview(self._buffer) as view:
                attach(obj, bytes(view[:size]))
            del self._buffer[:size]
        self._pending = None
        return obj


def _whole(data: bytes | str) -> dict[str, Any]:
    """One message as :func:`encode` wrote it, its program included, as its object."""
    raw = data.encode() if isinstance(data, str) else data
    line, _, rest = raw.partition(b"\n")
    obj = parse_line(line)
    if attachment_size(obj) is not None:
        attach(obj, rest)
    elif rest.strip():
        raise ProtocolError("more than one line")
    return obj


def _message_from(obj: object, types: dict[str, Any]) -> Any:
    data = as_object(obj, "a message")
    ident = data.get("id")
    ident = ident if isinstance(ident, str) else None
    kind = data.get("type")
    cls = types.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown type: {kind!r}", id=ident)
    try:
        return cls.from_wire(data)
    except ProtocolError as exc:
        exc.kind, exc.id = cls.TYPE, ident
        raise


def host_message_from(obj: object) -> HostMessage:
    """A host message from parsed JSON (the agent's side).

    Raises:
        ProtocolError: not one of the host's messages, or malformed.
    """
    message: HostMessage = _message_from(obj, HOST_TYPES)
    return message


def agent_message_from(obj: object) -> AgentMessage:
    """An agent message from parsed JSON (the host's side).

    Raises:
        ProtocolError: not one of the agent's messages, or malformed.
    """
    message: AgentMessage = _message_from(obj, AGENT_TYPES)
    return message


def decode_host_message(data: bytes | str) -> HostMessage:
    """One message from the host as :func:`encode` wrote it (the agent's side).

    Raises:
        ProtocolError: not JSON, not one of the host's messages, or malformed.
    """
    return host_message_from(_whole(data))


def decode_agent_message(data: bytes | str) -> AgentMessage:
    """One message from the agent as :func:`encode` wrote it (the host's side).

    Raises:
        ProtocolError: not JSON, not one of the agent's messages, or malformed.
    """
    return agent_message_from(_whole(data))
