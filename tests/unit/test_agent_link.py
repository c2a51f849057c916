"""The host's end of the agent protocol: lines cut out of attach frames, however they fall."""

from __future__ import annotations

from collections import deque

import pytest
import trio

from agent import protocol
from service.errors import AgentError
from service.sandbox.agent_link import AgentLink

STDOUT, STDERR = 1, 2


class Frames:
    """A FrameStream that yields the given frames, then ends."""

    def __init__(self, frames: list[tuple[int, bytes]]) -> None:
        self.frames = deque(frames)
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def receive(self) -> tuple[int, bytes]:
        if not self.frames:
            raise EOFError("stream ended")
        return self.frames.popleft()

    async def aclose(self) -> None:
        pass


def line(message: protocol.AgentMessage) -> bytes:
    return protocol.encode(message)


def cut(data: bytes, size: int) -> list[tuple[int, bytes]]:
    return [(STDOUT, data[i : i + size]) for i in range(0, len(data), size)]


@pytest.mark.parametrize(("size", "program_kib"), [(1, 16), (7, 64), (4096, 2048), (1 << 20, 2048)])
async def test_messages_come_whole_however_the_frames_cut_them(size, program_kib):
    program = bytes(range(256)) * (4 * program_kib)  # 2 MiB: a Go program
    messages = [
        protocol.Pong(),
        protocol.Cleaned("job-1", True, program),
        protocol.Cleaned("job-2", False, None),
    ]
    data = b"".join(line(m) for m in messages[:1]) + b"\n" + b"".join(line(m) for m in messages[1:])
    frames = cut(data, size)
    frames.insert(len(frames) // 2, (STDERR, b"agent: a diagnostic line\n"))
    link = AgentLink(Frames(frames), "c" * 64)
    assert [await link.receive() for _ in messages] == messages
    with pytest.raises(AgentError, match="stream ended"):
        await link.receive()


async def test_two_messages_in_one_frame_and_the_next_one_begun():
    first, second = line(protocol.Pong()), line(protocol.Cleaned("job-3", True, None))
    frames = [(STDOUT, first + second[:5]), (STDOUT, second[5:])]
    link = AgentLink(Frames(frames), "c" * 64)
    assert await link.receive() == protocol.Pong()
    assert await link.receive() == protocol.Cleaned("job-3", True, None)


async def test_a_receive_cancelled_while_a_program_is_on_its_way_loses_nothing(autojump_clock):
    program = b"\n" * 1000 + bytes(range(256))  # raw bytes: newlines are no lines in it
    data = line(protocol.Cleaned("job-4", True, program)) + line(protocol.Pong())
    send, receive = trio.open_memory_channel[tuple[int, bytes]](10)

    class Channel(Frames):
        async def receive(self) -> tuple[int, bytes]:
            return await receive.receive()

    link = AgentLink(Channel([]), "c" * 64)
    await send.send((STDOUT, data[:600]))
    with trio.move_on_after(1) as waited:
        await link.receive()
    assert waited.cancelled_caught
    await send.send((STDOUT, data[600:]))
    assert await link.receive() == protocol.Cleaned("job-4", True, program)
    assert await link.receive() == protocol.Pong()
