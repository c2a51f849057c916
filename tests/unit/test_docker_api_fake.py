"""docker_api.testing.FakeDockerEngine: the behaviour other packages' tests rely on."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from docker_api import APIError, DaemonUnavailable, DockerClient, NotFound
from docker_api.frames import STDOUT
from docker_api.testing import FakeDockerEngine

IMAGE = "code-engine-base:bookworm"
CONFIG: dict[str, Any] = {"Image": IMAGE, "Cmd": ["cat"], "OpenStdin": True, "Tty": False}


@pytest.fixture
def fake() -> FakeDockerEngine:
    return FakeDockerEngine(images=[IMAGE])


@pytest.fixture
async def docker(fake: FakeDockerEngine) -> AsyncIterator[DockerClient]:
    async with fake.client() as client:
        yield client


async def test_image_names_default_to_latest(fake: FakeDockerEngine, docker: DockerClient) -> None:
    fake.add_image("alpine")
    assert "alpine:latest" in fake.images
    await docker.containers.create({"Image": "alpine:latest"})
    await docker.containers.create({"Image": "alpine"})
    assert await docker.images.exists(fake.images["alpine:latest"]["Id"])


async def test_containers_found_by_name_and_id_prefix(
    fake: FakeDockerEngine, docker: DockerClient
) -> None:
    container_id = await docker.containers.create(CONFIG, name="warm-1")
    assert (await docker.containers.inspect("/warm-1"))["Id"] == container_id
    assert (await docker.containers.inspect(container_id[:12]))["Name"] == "/warm-1"
    assert fake.container("warm-1") is fake.container(container_id)
    with pytest.raises(KeyError):
        fake.container("ghost")


async def test_list_filters_by_name_id_and_status(docker: DockerClient) -> None:
    first = await docker.containers.create(CONFIG, name="pool-python-1")
    second = await docker.containers.create(CONFIG, name="pool-go-1")
    await docker.containers.start(second)
    by_name = await docker.containers.list(filters={"name": ["python"]})
    by_id = await docker.containers.list(filters={"id": [second[:10]]})
    by_status = await docker.containers.list(filters={"status": ["created"]})
    assert [c["Id"] for c in by_name] == [first]
    assert [c["Id"] for c in by_id] == [second]
    assert [c["Id"] for c in by_status] == [first]
    with pytest.raises(APIError, match="invalid filter") as info:
        await docker.containers.list(filters={"ancestor": [IMAGE]})
    assert info.value.status == 400


async def test_wait_on_a_created_container_returns_at_once(docker: DockerClient) -> None:
    container_id = await docker.containers.create(CONFIG)
    with trio.fail_after(1):
        assert await docker.containers.wait(container_id) == {"StatusCode": 0, "Error": None}


async def test_wait_next_exit_and_removed(fake: FakeDockerEngine, docker: DockerClient) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    results: dict[str, dict[str, Any]] = {}

    async def wait_for(condition: str) -> None:
        results[condition] = await docker.containers.wait(container_id, condition)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_for, "next-exit")
        nursery.start_soon(wait_for, "removed")
        await trio.testing.wait_all_tasks_blocked()
        await fake.exit_container(container_id, exit_code=3)
        await trio.testing.wait_all_tasks_blocked()
        assert results == {"next-exit": {"StatusCode": 3, "Error": None}}
        await docker.containers.remove(container_id)
    assert results["removed"] == {"StatusCode": 3, "Error": None}


async def test_wait_unknown_condition_is_rejected(docker: DockerClient) -> None:
    container_id = await docker.containers.create(CONFIG)
    with pytest.raises(APIError) as info:
        await docker.containers.wait(container_id, "whenever")
    assert info.value.status == 400


async def test_exit_container_ends_attach_streams(
    fake: FakeDockerEngine, docker: DockerClient
) -> None:
    container_id = await docker.containers.create(CONFIG)
    async with await docker.containers.attach(container_id) as stream:
        await docker.containers.start(container_id)
        peer = await fake.next_attach()
        await fake.exit_container(container_id, exit_code=1)
        assert peer.closed
        state = (await docker.containers.inspect(container_id))["State"]
        assert (state["Running"], state["ExitCode"]) == (False, 1)
        with pytest.raises(Exception, match="ended"):
            await stream.receive()


async def test_fail_next_answers_matching_requests(
    fake: FakeDockerEngine, docker: DockerClient
) -> None:
    fake.fail_next("POST", r"/containers/create$", status=503, message="busy", count=2)
    for _ in range(2):
        with pytest.raises(APIError, match="busy") as info:
            await docker.containers.create(CONFIG)
        assert info.value.status == 503
    await docker.containers.create(CONFIG)
    fake.fail_next("GET", r"/json$", status=404, message="gone")
    with pytest.raises(NotFound, match="gone"):
        await docker.images.inspect(IMAGE)
    await docker.images.inspect(IMAGE)


async def test_down_can_be_switched_back(fake: FakeDockerEngine, docker: DockerClient) -> None:
    fake.down = True
    with pytest.raises(DaemonUnavailable):
        await docker.system.ping()
    fake.down = False
    await docker.system.ping()
    assert fake.calls == [("GET", "/_ping"), ("GET", "/_ping")]


async def test_unknown_route_is_404(docker: DockerClient) -> None:
    with pytest.raises(NotFound, match="page not found"):
        await docker.request("GET", "/plugins")


async def test_next_attach_yields_peers_in_order(
    fake: FakeDockerEngine, docker: DockerClient
) -> None:
    ids = [await docker.containers.create(CONFIG) for _ in range(3)]
    streams = [await docker.containers.attach(container_id) for container_id in ids]
    assert [(await fake.next_attach()).container_id for _ in ids] == ids
    assert [len(fake.container(i).attach_peers) for i in ids] == [1, 1, 1]
    for stream in streams:
        await stream.aclose()


async def test_peer_output_after_client_hung_up_is_dropped(
    fake: FakeDockerEngine, docker: DockerClient
) -> None:
    container_id = await docker.containers.create(CONFIG)
    stream = await docker.containers.attach(container_id)
    peer = await fake.next_attach()
    await stream.aclose()
    await peer.send_frame(STDOUT, b"nobody listens")
    assert peer.client_closed


async def test_under_autojump_clock_virtual_time_only_moves_on_deadlines(
    fake: FakeDockerEngine, docker: DockerClient, autojump_clock: trio.testing.MockClock
) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    async with await docker.containers.attach(container_id) as stream:
        with trio.move_on_after(5):
            await stream.receive()
        assert trio.current_time() == 5
        with trio.move_on_after(10):
            await docker.containers.wait(container_id)
        assert trio.current_time() == 15
