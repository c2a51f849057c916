"""A hijacked ``/containers/{id}/attach`` connection.

After the Engine switches protocols, the HTTP connection carries raw stdin
bytes one way and multiplexed stdout/stderr frames the other way.
:class:`AttachStream` wraps the connection handed over by httpcore: writes go
straight to the socket, reads go through :class:`~docker_api.frames.FrameParser`.

httpcore raises its own exceptions on the raw connection (httpx only maps the
request/response cycle), so this module translates those itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Final, Self

import httpcore
import httpx
import trio

from .errors import StreamClosed
from .frames import Frame, FrameParser

READ_SIZE: Final = 64 * 1024


@contextmanager
def _map_stream_exceptions(action: str) -> Iterator[None]:
    # No timeouts are passed to the raw stream, so only connection failures occur.
    try:
        yield
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise StreamClosed(f"attach stream broke while {action} it: {exc}") from exc


class AttachStream:
    """Stdin/stdout/stderr of one container, for containers created with ``Tty: false``.

    One task may call :meth:`send` while another calls :meth:`receive`; two
    concurrent calls of the same method are a bug (on a real connection Trio
    raises ``trio.BusyResourceError``). Neither method has a timeout:
    wrap calls in ``trio.move_on_after``/``fail_after`` where a limit applies.
    """

    def __init__(self, response: httpx.Response, stream: httpcore.AsyncNetworkStream) -> None:
        self._response = response
        self._stream = stream
        self._parser = FrameParser()
        self._frames: deque[Frame] = deque()
        self._eof = False
        self._closed = False

    async def send(self, data: bytes) -> None:
        """Write ``data`` to the container's stdin.

        Blocks while the container does not drain its stdin. If cancelled, an
        unknown prefix of ``data`` may have been written; close the stream.

        Raises:
            StreamClosed: The connection is closed (by us or by the daemon).
        """
        if self._closed:
            raise StreamClosed("attach stream is closed")
        with _map_stream_exceptions("writing to"):
            await self._stream.write(data, timeout=None)

    async def receive(self) -> Frame:
        """Return the next whole frame as ``(stream_type, payload)``.

        Cancelling is safe: bytes already read stay buffered for the next call.

        Raises:
            StreamClosed: End of stream (container exited, daemon hung up, or the
                stream was closed), including end of stream in the middle of a
                frame. Raised again by every later call.
            ProtocolError: The bytes are not multiplexed frames (TTY container).
        """
        while not self._frames:
            if self._closed:
                raise StreamClosed("attach stream is closed")
            if self._eof:
                raise StreamClosed("attach stream ended")
            with _map_stream_exceptions("reading from"):
                data = await self._stream.read(READ_SIZE, timeout=None)
            if not data:
                self._eof = True
                if self._parser.buffered:
                    raise StreamClosed(
                        f"attach stream ended in the middle of a frame "
                        f"({self._parser.buffered} bytes pending)"
                    )
                raise StreamClosed("attach stream ended")
            self._frames.extend(self._parser.feed(data))
        return self._frames.popleft()

    async def aclose(self) -> None:
        """Close the connection and release the HTTP response. Idempotent.

        Runs shielded from cancellation so the socket is always released; a task
        blocked in :meth:`receive` or :meth:`send` then gets :class:`StreamClosed`.
        """
        if self._closed:
            return
        self._closed = True
        # Shielded: closing a unix socket does not block, and it must happen even
        # when the caller is being cancelled.
        with trio.CancelScope(shield=True):
            with suppress(httpcore.NetworkError, httpcore.ProtocolError):
                await self._stream.aclose()
            # Closing the response makes httpcore drop the switched connection from
            # its pool instead of trying to reuse it.
            with suppress(httpx.HTTPError, httpx.StreamError):
                await self._response.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
