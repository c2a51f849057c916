"""Parser for Docker's multiplexed attach/logs stream.

A container created without a TTY has its stdout and stderr multiplexed on one
connection. Each frame is an 8-byte header followed by the payload::

    byte 0      stream type: 0 stdin, 1 stdout, 2 stderr, 3 daemon error
    bytes 1-3   zero
    bytes 4-7   payload length, unsigned 32-bit big-endian

:class:`FrameParser` is pure (no I/O): feed it whatever the socket returned and
it hands back every frame that is now complete, keeping partial data for the
next call.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from .errors import ProtocolError

STDIN: Final = 0
STDOUT: Final = 1
STDERR: Final = 2
SYSTEMERR: Final = 3
"""Daemon-side error text injected into the stream (newer Engines only)."""

HEADER_SIZE: Final = 8
_HEADER = struct.Struct(">BxxxL")
_PADDING = slice(1, 4)


class Frame(NamedTuple):
    """One demultiplexed chunk of output; a plain ``(stream_type, payload)`` tuple."""

    stream_type: int
    payload: bytes


def encode_frame(stream_type: int, payload: bytes) -> bytes:
    """Encode one frame the way the daemon does (used by fakes and tests)."""
    return _HEADER.pack(stream_type, len(payload)) + payload


class FrameParser:
    """Incremental decoder: bytes in, whole frames out.

    Frames split across several reads and several frames in one read are both
    handled. The parser never blocks and never loses bytes, so feeding it from a
    read that may be cancelled is safe.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received that do not form a complete frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data`` and return every frame completed by it, in order.

        Raises:
            ProtocolError: A header has an unknown stream type or non-zero
                padding (typically: the container was created with a TTY).
                Frames completed before the bad header are returned first;
                the error is raised by the next call, and by every call after.
        """
        self._buffer += data
        frames: list[Frame] = []
        offset = 0
        buffer = self._buffer
        while len(buffer) - offset >= HEADER_SIZE:
            header = buffer[offset : offset + HEADER_SIZE]
            stream_type, length = _HEADER.unpack(header)
            if stream_type > SYSTEMERR or any(header[_PADDING]):
                if frames:
                    break  # hand out the good frames first; raise on the next feed
                raise ProtocolError(
                    f"invalid multiplexed stream header {bytes(header)!r}; "
                    "was the container created with Tty: true?"
                )
            end = offset + HEADER_SIZE + length
            if end > len(buffer):
                break
            frames.append(Frame(stream_type, bytes(buffer[offset + HEADER_SIZE : end])))
            offset = end
        del buffer[:offset]
        return frames
