"""AttachStream over the fake Engine's in-memory connections and hand-made upgrades."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from docker_api import (
    APIError,
    AttachStream,
    DockerClient,
    DockerError,
    NotFound,
    ProtocolError,
    StreamClosed,
)
from docker_api.frames import STDERR, STDOUT, encode_frame
from docker_api.testing import FakeAttachPeer, FakeDockerEngine, attach_pair

IMAGE = "code-engine-base:bookworm"
CONFIG: dict[str, Any] = {
    "Image": IMAGE,
    "Cmd": ["cat"],
    "OpenStdin": True,
    "AttachStdin": True,
    "StdinOnce": False,
    "Tty": False,
}


@pytest.fixture
def fake() -> FakeDockerEngine:
    return FakeDockerEngine(images=[IMAGE])


@pytest.fixture
async def docker(fake: FakeDockerEngine) -> AsyncIterator[DockerClient]:
    async with fake.client() as client:
        yield client


async def attached(
    docker: DockerClient, fake: FakeDockerEngine
) -> tuple[str, AttachStream, FakeAttachPeer]:
    container_id = await docker.containers.create(CONFIG)
    stream = await docker.containers.attach(container_id)
    await docker.containers.start(container_id)
    return container_id, stream, await fake.next_attach()


async def test_attach_request_asks_for_an_upgrade(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    container_id, stream, peer = await attached(docker, fake)
    async with stream:
        request = next(r for r in fake.requests if r.url.path.endswith("/attach"))
        assert request.method == "POST"
        assert request.url.path == f"/v1.41/containers/{container_id}/attach"
        assert dict(request.url.params) == {
            "stream": "1",
            "stdin": "1",
            "stdout": "1",
            "stderr": "1",
        }
        assert request.headers["connection"] == "Upgrade"
        assert request.headers["upgrade"] == "tcp"
        assert peer.container_id == container_id


async def test_send_stdin_and_receive_frames(docker: DockerClient, fake: FakeDockerEngine) -> None:
    _, stream, peer = await attached(docker, fake)
    async with stream:
        await stream.send(b"hello\n")
        assert await peer.receive_stdin() == b"hello\n"
        await peer.send_frame(STDOUT, b"hello\n")
        await peer.send_frame(STDERR, b"warning\n")
        assert await stream.receive() == (1, b"hello\n")
        frame = await stream.receive()
        assert (frame.stream_type, frame.payload) == (STDERR, b"warning\n")


async def test_frames_split_and_merged_across_reads(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    _, stream, peer = await attached(docker, fake)
    data = encode_frame(STDOUT, b"first") + encode_frame(STDERR, b"second")
    async with stream:
        await peer.send_raw(data[:5])
        await peer.send_raw(data[5:15])
        await peer.send_raw(data[15:] + encode_frame(STDOUT, b"third"))
        assert [await stream.receive() for _ in range(3)] == [
            (1, b"first"),
            (2, b"second"),
            (1, b"third"),
        ]


async def test_large_frame_spans_many_reads(docker: DockerClient, fake: FakeDockerEngine) -> None:
    _, stream, peer = await attached(docker, fake)
    payload = b"x" * 300_000  # several 64 KiB reads
    async with stream:
        await peer.send_frame(STDOUT, payload)
        assert await stream.receive() == (STDOUT, payload)


async def test_eof_raises_stream_closed_every_time(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    _, stream, peer = await attached(docker, fake)
    async with stream:
        await peer.send_frame(STDOUT, b"last words")
        await peer.close()
        assert await stream.receive() == (1, b"last words")
        with pytest.raises(StreamClosed, match="ended"):
            await stream.receive()
        with pytest.raises(StreamClosed):
            await stream.receive()


async def test_eof_in_the_middle_of_a_frame(docker: DockerClient, fake: FakeDockerEngine) -> None:
    _, stream, peer = await attached(docker, fake)
    async with stream:
        await peer.send_raw(encode_frame(STDOUT, b"truncated")[:11])
        await peer.close()
        with pytest.raises(StreamClosed, match="middle of a frame"):
            await stream.receive()


async def test_tty_output_is_protocol_error(docker: DockerClient, fake: FakeDockerEngine) -> None:
    _, stream, peer = await attached(docker, fake)
    async with stream:
        await peer.send_raw(b"root@container:/# ")
        with pytest.raises(ProtocolError):
            await stream.receive()


async def test_container_exit_ends_the_stream(docker: DockerClient, fake: FakeDockerEngine) -> None:
    container_id, stream, _ = await attached(docker, fake)
    async with stream:
        await docker.containers.kill(container_id)
        with pytest.raises(StreamClosed):
            await stream.receive()
        with pytest.raises(StreamClosed):
            await stream.send(b"anyone there?\n")


async def test_aclose_is_idempotent_and_wakes_a_blocked_receiver(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    _, stream, peer = await attached(docker, fake)
    errors: list[Exception] = []

    async def receiver() -> None:
        try:
            await stream.receive()
        except StreamClosed as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        await stream.aclose()
    await stream.aclose()
    assert len(errors) == 1
    assert peer.client_closed
    assert await peer.receive_stdin() == b""
    with pytest.raises(StreamClosed):
        await stream.send(b"late")
    with pytest.raises(StreamClosed):
        await stream.receive()


async def test_aclose_still_closes_when_cancelled(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    _, stream, peer = await attached(docker, fake)
    with trio.CancelScope() as scope:
        scope.cancel()
        await stream.aclose()
    assert peer.client_closed
    assert stream._response.is_closed  # the pooled connection is released too


async def test_cancelled_receive_loses_no_bytes(
    docker: DockerClient, fake: FakeDockerEngine, autojump_clock: trio.testing.MockClock
) -> None:
    _, stream, peer = await attached(docker, fake)
    frame = encode_frame(STDOUT, b"patience")
    async with stream:
        await peer.send_raw(frame[:10])
        with trio.move_on_after(3) as scope:
            await stream.receive()
        assert scope.cancelled_caught
        assert trio.current_time() == 3
        await peer.send_raw(frame[10:])
        assert await stream.receive() == (1, b"patience")


async def test_concurrent_send_and_receive(docker: DockerClient, fake: FakeDockerEngine) -> None:
    async def echo(peer: FakeAttachPeer) -> None:
        while data := await peer.receive_stdin():
            await peer.send_frame(STDOUT, data.upper())

    received: list[tuple[int, bytes]] = []
    all_received = trio.Event()
    async with trio.open_nursery() as nursery:
        fake.on_attach = lambda peer: nursery.start_soon(echo, peer)
        container_id = await docker.containers.create(CONFIG)
        async with await docker.containers.attach(container_id) as stream:

            async def reader() -> None:
                for _ in range(3):
                    received.append(await stream.receive())
                all_received.set()

            nursery.start_soon(reader)
            for word in (b"a", b"b", b"c"):
                await stream.send(word)
            with trio.fail_after(1):
                await all_received.wait()
    assert received == [(1, b"A"), (1, b"B"), (1, b"C")]


async def test_attach_unknown_container_is_not_found(docker: DockerClient) -> None:
    with pytest.raises(NotFound, match="No such container: ghost"):
        await docker.containers.attach("ghost")


async def test_attach_to_exited_container_ends_at_once(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    container_id, stream, _ = await attached(docker, fake)
    await stream.aclose()
    await fake.exit_container(container_id, exit_code=3)
    async with await docker.containers.attach(container_id) as again:
        with pytest.raises(StreamClosed):
            await again.receive()


# Upgrade handling with hand-made transports.


def upgrade_client(status: int, extensions: dict[str, Any], **kwargs: Any) -> DockerClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, extensions=extensions, **kwargs)

    return DockerClient(transport=httpx.MockTransport(handler))


async def test_plain_200_answer_is_accepted() -> None:
    client_end, peer = attach_pair("abc")
    async with upgrade_client(200, {"network_stream": client_end}) as docker:
        async with await docker.containers.attach("abc") as stream:
            await peer.send_frame(STDOUT, b"old daemon")
            assert await stream.receive() == (1, b"old daemon")


async def test_error_answer_to_attach_is_api_error() -> None:
    async with upgrade_client(500, {}, json={"message": "attach failed"}) as docker:
        with pytest.raises(APIError, match="attach failed") as info:
            await docker.containers.attach("abc")
    assert info.value.status == 500


async def test_upgrade_without_network_stream_is_docker_error() -> None:
    async with upgrade_client(101, {}) as docker:
        with pytest.raises(DockerError, match="did not hand over the connection"):
            await docker.containers.attach("abc")
