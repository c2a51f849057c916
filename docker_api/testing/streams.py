"""In-memory attach connections for :class:`~docker_api.testing.FakeDockerEngine`.

:func:`attach_pair` returns two connected ends built on Trio memory channels:

* :class:`FakeNetworkStream`, a real ``httpcore.AsyncNetworkStream`` that the
  fake transport hands to the client as ``response.extensions["network_stream"]``;
* :class:`FakeAttachPeer`, the container's side, driven by the test.
"""

from __future__ import annotations

import math
from typing import Any

import httpcore
import trio

from ..frames import encode_frame


def _seconds(timeout: float | None) -> float:
    return math.inf if timeout is None else timeout


class FakeNetworkStream(httpcore.AsyncNetworkStream):
    """Client end of a fake attach connection; behaves like httpcore's Trio stream.

    Reads return ``b""`` once the peer closed. Reading or writing after
    :meth:`aclose` (also from another task blocked in :meth:`read`) raises
    ``httpcore.ReadError``/``WriteError``, as on a real socket.
    """

    def __init__(
        self, to_peer: trio.MemorySendChannel[bytes], from_peer: trio.MemoryReceiveChannel[bytes]
    ) -> None:
        self._to_peer = to_peer
        self._from_peer = from_peer
        self._leftover = b""
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - httpcore interface
        if self.closed:
            raise httpcore.ReadError("read from a closed stream")
        if not self._leftover:
            try:
                with trio.fail_after(_seconds(timeout)):
                    self._leftover = await self._from_peer.receive()
            except trio.TooSlowError as exc:
                raise httpcore.ReadTimeout("fake stream read timed out") from exc
            except trio.EndOfChannel:
                return b""
            except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
                raise httpcore.ReadError("stream closed while reading") from exc
        data, self._leftover = self._leftover[:max_bytes], self._leftover[max_bytes:]
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 - httpcore interface
        if self.closed:
            raise httpcore.WriteError("write to a closed stream")
        if not buffer:
            return
        try:
            with trio.fail_after(_seconds(timeout)):
                await self._to_peer.send(bytes(buffer))
        except trio.TooSlowError as exc:
            raise httpcore.WriteTimeout("fake stream write timed out") from exc
        except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
            raise httpcore.WriteError("peer is gone") from exc

    async def aclose(self) -> None:
        self.closed = True
        self._to_peer.close()
        self._from_peer.close()
        await trio.lowlevel.checkpoint()

    def get_extra_info(self, info: str) -> Any:
        return None


class FakeAttachPeer:
    """The container's end of one attach connection.

    ``send_frame`` after the client hung up is silently dropped, like output of a
    container nobody is attached to.

    Attributes:
        container_id: The container the client attached to.
    """

    def __init__(
        self,
        container_id: str,
        to_client: trio.MemorySendChannel[bytes],
        from_client: trio.MemoryReceiveChannel[bytes],
        client_end: FakeNetworkStream,
    ) -> None:
        self.container_id = container_id
        self._to_client = to_client
        self._from_client = from_client
        self._client_end = client_end
        self._closed = False

    @property
    def client_closed(self) -> bool:
        """True once the client closed its end."""
        return self._client_end.closed

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the client sees end of stream)."""
        return self._closed

    async def receive_stdin(self) -> bytes:
        """Return the next chunk the client wrote, one chunk per ``send``.

        Returns ``b""`` once the client closed its end (or after :meth:`close`).
        """
        try:
            return await self._from_client.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return b""

    async def send_frame(self, stream_type: int, payload: bytes) -> None:
        """Send one multiplexed frame (1 stdout, 2 stderr) to the client."""
        await self.send_raw(encode_frame(stream_type, payload))

    async def send_raw(self, data: bytes) -> None:
        """Send bytes as they are, e.g. half a frame, to exercise the client's parser.

        Raises:
            trio.ClosedResourceError: After :meth:`close`.
        """
        try:
            await self._to_client.send(data)
        except trio.BrokenResourceError:
            pass

    async def close(self) -> None:
        """End the stream as an exiting container would. Idempotent.

        The client reads end of stream; its later writes fail.
        """
        self._closed = True
        await self._to_client.aclose()
        await self._from_client.aclose()


def attach_pair(container_id: str) -> tuple[FakeNetworkStream, FakeAttachPeer]:
    """Return connected client and container ends of a fake attach connection."""
    stdin_send, stdin_receive = trio.open_memory_channel[bytes](math.inf)
    output_send, output_receive = trio.open_memory_channel[bytes](math.inf)
    client_end = FakeNetworkStream(stdin_send, output_receive)
    peer = FakeAttachPeer(container_id, output_send, stdin_receive, client_end)
    return client_end, peer
