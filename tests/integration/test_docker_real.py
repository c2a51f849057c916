"""docker_api against the real dockerd.

Fails loudly when no daemon answers; set CODE_ENGINE_SKIP_INTEGRATION=1 to skip.
"""

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import trio

from docker_api import DockerClient, NotFound, StreamClosed
from docker_api.frames import STDOUT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("CODE_ENGINE_SKIP_INTEGRATION")),
        reason="CODE_ENGINE_SKIP_INTEGRATION is set",
    ),
]

IMAGE = "code-engine-base:bookworm"
LABEL = "code-engine.test"


@pytest.fixture
async def docker() -> AsyncIterator[DockerClient]:
    async with DockerClient.from_env() as client:
        yield client


@pytest.fixture
async def image(docker: DockerClient) -> str:
    if not await docker.images.exists(IMAGE):
        pytest.skip(f"image {IMAGE} is not present (build it with scripts/bootstrap-base.sh)")
    return IMAGE


async def test_ping_and_version(docker: DockerClient) -> None:
    await docker.system.ping()
    version = await docker.system.version()
    assert tuple(int(part) for part in version["ApiVersion"].split(".")) >= (1, 41)
    assert version["Os"] == "linux"


async def test_create_with_missing_image_is_not_found(docker: DockerClient) -> None:
    missing = f"code-engine-missing-{uuid.uuid4().hex[:8]}:none"
    with pytest.raises(NotFound, match="No such image") as info:
        await docker.containers.create({"Image": missing})
    assert info.value.status == 404


async def test_attach_round_trip_through_cat(docker: DockerClient, image: str) -> None:
    container_id = await docker.containers.create(
        {
            "Image": image,
            "Cmd": ["cat"],
            "OpenStdin": True,
            "AttachStdin": True,
            "AttachStdout": True,
            "AttachStderr": True,
            "StdinOnce": False,
            "Tty": False,
            "Labels": {LABEL: "attach"},
            "HostConfig": {"NetworkMode": "none"},
        },
        name=f"code-engine-test-{uuid.uuid4().hex[:8]}",
    )
    try:
        with trio.fail_after(30):
            async with await docker.containers.attach(container_id) as stream:
                await docker.containers.start(container_id)
                assert (await docker.containers.inspect(container_id))["State"]["Running"]
                listed = await docker.containers.list(filters={"label": [f"{LABEL}=attach"]})
                assert container_id in [c["Id"] for c in listed]

                await stream.send(b"hello\n")
                assert await stream.receive() == (STDOUT, b"hello\n")

                await docker.containers.kill(container_id)
                with pytest.raises(StreamClosed):
                    await stream.receive()
            assert (await docker.containers.wait(container_id))["StatusCode"] == 137
    finally:
        with trio.CancelScope(shield=True):
            await docker.containers.remove(container_id)
    with pytest.raises(NotFound):
        await docker.containers.inspect(container_id)
