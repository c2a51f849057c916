"""DockerClient against the fake Engine and hand-written transports: requests, answers, errors."""

import contextlib
import io
import json
import socket
import tarfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from docker_api import (
    APIError,
    BuildFailed,
    Conflict,
    DaemonUnavailable,
    DockerClient,
    DockerError,
    NotFound,
    ProtocolError,
)
from docker_api.client import DEFAULT_SOCKET_PATH, socket_path_from_env
from docker_api.system import DiskUsage
from docker_api.testing import FakeDockerEngine
from docker_api.testing.state import normalize_image

IMAGE = "code-engine-base:bookworm"
CONFIG: dict[str, Any] = {
    "Image": IMAGE,
    "Cmd": ["cat"],
    "Labels": {"code-engine.pool": "python", "code-engine.slot": "1"},
    "HostConfig": {"Memory": 256 * 1024**2, "NetworkMode": "none"},
}


def handler_client(
    handler: Callable[[httpx.Request], httpx.Response | Any],
) -> DockerClient:
    return DockerClient(transport=httpx.MockTransport(handler))


def answer(status: int, body: Any = None, **kwargs: Any) -> DockerClient:
    """A client whose every request gets the same answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, **kwargs)
        return httpx.Response(status, json=body, **kwargs)

    return handler_client(handler)


def context_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        dockerfile = b"FROM scratch\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return buffer.getvalue()


@pytest.fixture
def fake() -> FakeDockerEngine:
    return FakeDockerEngine(images=[IMAGE])


@pytest.fixture
async def docker(fake: FakeDockerEngine) -> AsyncIterator[DockerClient]:
    async with fake.client() as client:
        yield client


# System.


async def test_ping_and_version(docker: DockerClient, fake: FakeDockerEngine) -> None:
    await docker.system.ping()
    version = await docker.system.version()
    info = await docker.system.info()
    assert version["ApiVersion"] == "1.41"
    assert info["NCPU"] == 4
    assert fake.calls == [("GET", "/_ping"), ("GET", "/version"), ("GET", "/info")]
    assert str(fake.requests[0].url) == "http://docker/v1.41/_ping"


async def test_disk_usage_is_dockers_own_accounting(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    fake.images[normalize_image(IMAGE)]["Size"] = 7 << 20
    container_id = await docker.containers.create({"Image": IMAGE})
    fake.container(container_id).size_rw = 4096
    await docker.containers.create({"Image": IMAGE})  # nothing written: no SizeRw at all
    usage = await docker.system.disk_usage()
    assert usage == DiskUsage(images=7 << 20, containers=4096, volumes=0, build_cache=0)
    assert fake.calls[-1] == ("GET", "/system/df")


async def test_api_version_is_the_path_prefix(fake: FakeDockerEngine) -> None:
    async with fake.client(api_version="v1.40") as docker:
        await docker.system.ping()
    assert fake.requests[0].url.path == "/v1.40/_ping"


async def test_daemon_down_raises_daemon_unavailable(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    fake.down = True
    with pytest.raises(DaemonUnavailable, match="Connection refused") as info:
        await docker.system.ping()
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    with pytest.raises(DaemonUnavailable):
        await docker.containers.create(CONFIG)


async def test_missing_socket_raises_daemon_unavailable(tmp_path: Path) -> None:
    async with DockerClient(str(tmp_path / "missing.sock")) as docker:
        with pytest.raises(DaemonUnavailable, match="No such file"):
            await docker.system.ping()


async def test_refused_socket_raises_daemon_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))  # bound but never listening: connect is refused
        async with DockerClient(str(path)) as docker:
            with pytest.raises(DaemonUnavailable):
                await docker.system.ping()


async def test_silent_daemon_times_out_as_daemon_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "silent.sock")
    listener = trio.socket.socket(trio.socket.AF_UNIX)
    await listener.bind(path)
    listener.listen()
    with listener:
        async with DockerClient(path, timeout=0.05) as docker:
            with pytest.raises(DaemonUnavailable, match="timed out"):
                await docker.system.ping()


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool timed out"),
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
async def test_transport_failures_become_daemon_unavailable(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    async with handler_client(handler) as docker:
        with pytest.raises(DaemonUnavailable) as info:
            await docker.containers.inspect("abc")
    assert info.value.__cause__ is error


async def test_other_httpx_failures_become_docker_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("bad header")

    async with handler_client(handler) as docker:
        with pytest.raises(DockerError) as info:
            await docker.system.ping()
    assert not isinstance(info.value, DaemonUnavailable)


# Errors from the Engine.


async def test_404_is_not_found_with_engine_message() -> None:
    async with answer(404, {"message": "No such container: abc"}) as docker:
        with pytest.raises(NotFound) as info:
            await docker.containers.inspect("abc")
    assert info.value.status == 404
    assert info.value.message == "No such container: abc"
    assert str(info.value) == "Docker API error 404: No such container: abc"


async def test_409_is_conflict() -> None:
    async with answer(409, {"message": "name in use"}) as docker:
        with pytest.raises(Conflict) as info:
            await docker.containers.create(CONFIG, name="taken")
    assert (info.value.status, info.value.message) == (409, "name in use")


async def test_500_is_api_error_with_status() -> None:
    async with answer(500, {"message": "driver failed"}) as docker:
        with pytest.raises(APIError) as info:
            await docker.containers.start("abc")
    assert type(info.value) is APIError
    assert info.value.status == 500
    assert info.value.message == "driver failed"


async def test_error_body_that_is_not_json_becomes_the_message() -> None:
    async with answer(502, None, text="bad gateway\n") as docker:
        with pytest.raises(APIError) as info:
            await docker.system.ping()
    assert (info.value.status, info.value.message) == (502, "bad gateway")


async def test_empty_error_body_uses_reason_phrase() -> None:
    async with answer(503) as docker:
        with pytest.raises(APIError, match="Service Unavailable"):
            await docker.system.version()


async def test_2xx_body_that_is_not_json_is_protocol_error() -> None:
    async with answer(200, None, text="<html>") as docker:
        with pytest.raises(ProtocolError):
            await docker.containers.inspect("abc")


async def test_api_errors_are_docker_errors() -> None:
    assert issubclass(NotFound, APIError)
    assert issubclass(Conflict, APIError)
    for cls in (APIError, DaemonUnavailable, BuildFailed, ProtocolError):
        assert issubclass(cls, DockerError)


# Containers.


async def test_create_sends_config_and_returns_id(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    container_id = await docker.containers.create(CONFIG, name="slot-1")
    assert len(container_id) == 64
    request = fake.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/v1.41/containers/create")
    assert request.url.params["name"] == "slot-1"
    assert json.loads(request.content) == CONFIG
    container = fake.container(container_id)
    assert container.config == CONFIG
    assert container.name == "slot-1"
    assert not container.running


async def test_create_without_name_sends_no_name(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    await docker.containers.create(CONFIG)
    assert "name" not in fake.requests[-1].url.params


async def test_create_with_missing_image_is_not_found(docker: DockerClient) -> None:
    with pytest.raises(NotFound, match="No such image: nope:latest"):
        await docker.containers.create({"Image": "nope"})


async def test_create_with_taken_name_is_conflict(docker: DockerClient) -> None:
    await docker.containers.create(CONFIG, name="slot-1")
    with pytest.raises(Conflict, match="already in use"):
        await docker.containers.create(CONFIG, name="slot-1")


async def test_start_twice_is_not_an_error(docker: DockerClient, fake: FakeDockerEngine) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    await docker.containers.start(container_id)  # 304
    assert fake.container(container_id).running
    assert fake.calls[-1] == ("POST", f"/containers/{container_id}/start")


async def test_start_unknown_is_not_found(docker: DockerClient) -> None:
    with pytest.raises(NotFound, match="No such container: ghost"):
        await docker.containers.start("ghost")


async def test_kill_sends_signal(docker: DockerClient, fake: FakeDockerEngine) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    await docker.containers.kill(container_id, signal="SIGTERM")
    assert fake.requests[-1].url.params["signal"] == "SIGTERM"
    state = (await docker.containers.inspect(container_id))["State"]
    assert (state["Running"], state["Status"], state["ExitCode"]) == (False, "exited", 143)


async def test_kill_not_running_is_conflict(docker: DockerClient) -> None:
    container_id = await docker.containers.create(CONFIG)
    with pytest.raises(Conflict, match="is not running") as info:
        await docker.containers.kill(container_id)
    assert info.value.status == 409


async def test_remove_defaults_to_force_and_volumes(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    await docker.containers.remove(container_id)
    request = fake.requests[-1]
    assert request.method == "DELETE"
    assert dict(request.url.params) == {"force": "true", "v": "true"}
    assert container_id not in fake.containers
    with pytest.raises(NotFound):
        await docker.containers.remove(container_id)


async def test_remove_running_without_force_is_conflict(docker: DockerClient) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    with pytest.raises(Conflict, match="cannot remove a running container"):
        await docker.containers.remove(container_id, force=False, volumes=False)


async def test_inspect_reports_state(docker: DockerClient) -> None:
    container_id = await docker.containers.create(CONFIG, name="slot-7")
    before = await docker.containers.inspect(container_id)
    await docker.containers.start(container_id)
    after = await docker.containers.inspect("slot-7")
    assert before["State"]["Running"] is False
    assert before["State"]["Status"] == "created"
    assert after["State"]["Running"] is True
    assert after["State"]["Status"] == "running"
    assert after["Id"] == container_id
    assert after["Config"]["Labels"] == CONFIG["Labels"]


async def test_list_sends_json_filters(docker: DockerClient, fake: FakeDockerEngine) -> None:
    wanted = await docker.containers.create(CONFIG)
    await docker.containers.create({**CONFIG, "Labels": {"code-engine.pool": "go"}})
    await docker.containers.create({"Image": IMAGE})
    found = await docker.containers.list(filters={"label": ["code-engine.pool=python"]})
    params = fake.requests[-1].url.params
    assert params["all"] == "true"
    assert json.loads(params["filters"]) == {"label": ["code-engine.pool=python"]}
    assert [c["Id"] for c in found] == [wanted]
    assert len(await docker.containers.list(filters={"label": ["code-engine.pool"]})) == 2
    assert len(await docker.containers.list()) == 3
    assert "filters" not in fake.requests[-1].url.params


async def test_list_running_only(docker: DockerClient, fake: FakeDockerEngine) -> None:
    running = await docker.containers.create(CONFIG)
    await docker.containers.create(CONFIG)
    await docker.containers.start(running)
    found = await docker.containers.list(all=False)
    assert fake.requests[-1].url.params["all"] == "false"
    assert [c["Id"] for c in found] == [running]
    assert found[0]["State"] == "running"


async def test_update_posts_resources(docker: DockerClient, fake: FakeDockerEngine) -> None:
    container_id = await docker.containers.create(CONFIG)
    answer = await docker.containers.update(container_id, {"Memory": 512 * 1024**2})
    assert answer == {"Warnings": []}
    assert fake.calls[-1] == ("POST", f"/containers/{container_id}/update")
    assert fake.container(container_id).updates == [{"Memory": 512 * 1024**2}]
    inspected = await docker.containers.inspect(container_id)
    assert inspected["HostConfig"]["Memory"] == 512 * 1024**2
    assert inspected["HostConfig"]["NetworkMode"] == "none"


async def test_stats_is_one_shot(docker: DockerClient, fake: FakeDockerEngine) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    stats = await docker.containers.stats(container_id)
    assert dict(fake.requests[-1].url.params) == {"stream": "false", "one-shot": "true"}
    assert stats["memory_stats"]["limit"] == 256 * 1024**2
    assert stats["pids_stats"]["current"] == 1
    fake.container(container_id).stats = {"memory_stats": {"usage": 7}}
    assert await docker.containers.stats(container_id) == {"memory_stats": {"usage": 7}}


async def test_wait_blocks_until_the_container_stops(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    container_id = await docker.containers.create(CONFIG)
    await docker.containers.start(container_id)
    result: dict[str, Any] = {}

    async def waiter() -> None:
        result.update(await docker.containers.wait(container_id))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert result == {}
        await docker.containers.kill(container_id)
    assert result == {"StatusCode": 137, "Error": None}
    (wait_request,) = (r for r in fake.requests if r.url.path.endswith("/wait"))
    assert wait_request.url.params["condition"] == "not-running"


async def test_wait_has_no_read_timeout(fake: FakeDockerEngine) -> None:
    async with fake.client(timeout=5.0) as docker:
        container_id = await docker.containers.create(CONFIG)
        await docker.containers.wait(container_id)
        await docker.containers.inspect(container_id)
    wait_timeout, inspect_timeout = (r.extensions["timeout"] for r in fake.requests[-2:])
    assert wait_timeout["read"] is None
    assert wait_timeout["connect"] == 5.0
    assert inspect_timeout["read"] == 5.0


async def test_container_ref_is_one_quoted_path_segment() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(200, json={})

    async with handler_client(handler) as docker:
        await docker.containers.inspect("odd name?#")
        await docker.containers.inspect("/named")  # as in inspect()["Name"]
        await docker.containers.inspect("a/b")
    assert seen == [
        b"/v1.41/containers/odd%20name%3F%23/json",
        b"/v1.41/containers/named/json",
        b"/v1.41/containers/a%2Fb/json",
    ]


# Images.


async def test_image_inspect_and_exists(docker: DockerClient, fake: FakeDockerEngine) -> None:
    image = await docker.images.inspect(IMAGE)
    assert image["RepoTags"] == [IMAGE]
    assert await docker.images.exists(IMAGE)
    assert not await docker.images.exists("missing:1")
    with pytest.raises(NotFound, match="No such image: missing:1"):
        await docker.images.inspect("missing:1")


async def test_image_reference_with_registry_keeps_slashes_and_colons() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(404, json={"message": "No such image"})

    async with handler_client(handler) as docker:
        assert not await docker.images.exists("localhost:5000/team/app:1.2")
    assert seen == [b"/v1.41/images/localhost:5000/team/app:1.2/json"]


async def test_image_remove(docker: DockerClient, fake: FakeDockerEngine) -> None:
    fake.add_image("old:1")
    await docker.images.remove("old:1")
    assert fake.requests[-1].method == "DELETE"
    assert fake.requests[-1].url.params["force"] == "false"
    assert "old:1" not in fake.images
    with pytest.raises(NotFound):
        await docker.images.remove("old:1")


async def test_image_remove_in_use_is_conflict_unless_forced(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    await docker.containers.create(CONFIG)
    with pytest.raises(Conflict, match="is using its referenced image"):
        await docker.images.remove(IMAGE)
    await docker.images.remove(IMAGE, force=True)
    assert IMAGE not in fake.images


async def test_build_streams_progress(docker: DockerClient, fake: FakeDockerEngine) -> None:
    tar = context_tar()
    messages = [
        m
        async for m in docker.images.build(
            tar,
            tag="runner:py",
            dockerfile="docker/Dockerfile",
            labels={"code-engine.kind": "runner"},
            nocache=True,
        )
    ]
    assert messages[-1] == {"stream": "Successfully tagged runner:py\n"}
    assert len(messages) == 4
    request = fake.requests[-1]
    assert request.headers["content-type"] == "application/x-tar"
    assert request.content == tar
    params = request.url.params
    assert params["t"] == "runner:py"
    assert params["dockerfile"] == "docker/Dockerfile"
    assert params["nocache"] == "true"
    assert json.loads(params["labels"]) == {"code-engine.kind": "runner"}
    assert request.extensions["timeout"]["read"] is None
    build = fake.builds[-1]
    assert (build.tag, build.body, build.labels) == (
        "runner:py",
        tar,
        {"code-engine.kind": "runner"},
    )
    assert await docker.images.exists("runner:py")


async def test_build_error_line_raises_build_failed_after_earlier_lines(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    fake.build_output = [
        {"stream": "Step 1/2 : FROM scratch\n"},
        {"stream": "Step 2/2 : RUN false\n"},
        {
            "errorDetail": {"code": 1, "message": "returned a non-zero code: 1"},
            "error": "The command '/bin/sh -c false' returned a non-zero code: 1",
        },
        {"stream": "never yielded\n"},
    ]
    seen = []
    with pytest.raises(BuildFailed) as info:
        async for message in docker.images.build(context_tar(), tag="broken:1"):
            seen.append(message)
    assert info.value.message == "The command '/bin/sh -c false' returned a non-zero code: 1"
    assert seen == fake.build_output[:2]
    assert not await docker.images.exists("broken:1")


async def test_build_read_timeout_is_configurable(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    async for _ in docker.images.build(context_tar(), tag="x:1", timeout=120.0):
        pass
    assert fake.requests[-1].extensions["timeout"]["read"] == 120.0


async def test_build_handles_lines_split_across_chunks() -> None:
    body = b'{"stream": "a"}\r\n{"stre' + b'am": "b"}\r\n{"aux": {"ID": "sha256:1"}}{"stream": "c"}'

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    async with handler_client(lambda request: httpx.Response(200, content=chunks())) as docker:
        messages = [m async for m in docker.images.build(b"", tag="t")]
    assert messages == [
        {"stream": "a"},
        {"stream": "b"},
        {"aux": {"ID": "sha256:1"}},
        {"stream": "c"},
    ]


async def test_build_rejected_by_daemon_is_api_error() -> None:
    async with answer(400, {"message": "dockerfile parse error"}) as docker:
        with pytest.raises(APIError, match="dockerfile parse error") as info:
            async for _ in docker.images.build(b"", tag="t"):
                pass
    assert info.value.status == 400


async def test_build_daemon_hanging_up_mid_stream_is_daemon_unavailable() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"stream": "Step 1/3"}\r\n'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    seen = []
    async with handler_client(lambda request: httpx.Response(200, content=chunks())) as docker:
        with pytest.raises(DaemonUnavailable):
            async for message in docker.images.build(b"", tag="t"):
                seen.append(message)
    assert seen == [{"stream": "Step 1/3"}]


async def test_build_stopped_early_closes_the_response() -> None:
    class Body(httpx.AsyncByteStream):
        closed = False

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for n in range(100):
                yield b'{"stream": "%d"}\n' % n

        async def aclose(self) -> None:
            Body.closed = True

    async with handler_client(lambda request: httpx.Response(200, stream=Body())) as docker:
        async with contextlib.aclosing(docker.images.build(b"", tag="t")) as progress:
            async for message in progress:
                assert message == {"stream": "0"}
                break
        assert Body.closed


async def test_import_from_bytes(docker: DockerClient, fake: FakeDockerEngine) -> None:
    messages = [m async for m in docker.images.import_image(b"rootfs-tar", repo="rootfs")]
    request = fake.requests[-1]
    assert dict(request.url.params) == {"fromSrc": "-", "repo": "rootfs", "tag": "latest"}
    assert request.content == b"rootfs-tar"
    assert request.headers["content-type"] == "application/x-tar"
    assert messages == [{"status": fake.images["rootfs:latest"]["Id"]}]


async def test_import_streams_an_async_iterable(
    docker: DockerClient, fake: FakeDockerEngine
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"abc", b"def", b"ghi"):
            yield part

    async for _ in docker.images.import_image(chunks(), repo="rootfs", tag="v2"):
        pass
    request = fake.requests[-1]
    assert request.headers["transfer-encoding"] == "chunked"
    assert fake.builds[-1].body == b"abcdefghi"
    assert fake.builds[-1].imported
    assert await docker.images.exists("rootfs:v2")


async def test_import_error_line_is_build_failed() -> None:
    body = b'{"errorDetail": {"message": "archive/tar: invalid tar header"}}\r\n'
    async with answer(200, None, content=body) as docker:
        with pytest.raises(BuildFailed, match="invalid tar header"):
            async for _ in docker.images.import_image(b"junk", repo="r"):
                pass


# Configuration.


@pytest.mark.parametrize(
    ("environ", "path"),
    [
        ({}, DEFAULT_SOCKET_PATH),
        ({"DOCKER_HOST": ""}, DEFAULT_SOCKET_PATH),
        ({"DOCKER_HOST": "unix:///var/run/docker.sock"}, "/var/run/docker.sock"),
        ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "/run/user/1000/docker.sock"),
    ],
)
def test_socket_path_from_env(environ: dict[str, str], path: str) -> None:
    assert socket_path_from_env(environ) == path
    assert DockerClient.from_env(environ).socket_path == path


@pytest.mark.parametrize(
    "host", ["tcp://127.0.0.1:2375", "ssh://me@host", "npipe:////./pipe/docker", "unix://", "/x"]
)
def test_non_unix_docker_host_is_rejected(host: str) -> None:
    with pytest.raises(DockerError, match="unsupported DOCKER_HOST"):
        DockerClient.from_env({"DOCKER_HOST": host})


async def test_from_env_reads_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    async with DockerClient.from_env(timeout=1.0) as docker:
        assert docker.socket_path == f"{tmp_path}/docker.sock"
        with pytest.raises(DaemonUnavailable):
            await docker.system.ping()
    monkeypatch.delenv("DOCKER_HOST")
    assert DockerClient.from_env().socket_path == DEFAULT_SOCKET_PATH
