"""A small async Docker Engine API client over the daemon's unix socket.

Built on httpx and usable under Trio::

    from docker_api import DockerClient

    async with DockerClient.from_env() as docker:
        container_id = await docker.containers.create({"Image": "alpine", "Cmd": ["true"]})
        await docker.containers.start(container_id)

Every failure is a :class:`DockerError` (see :mod:`docker_api.errors` for the
tree). :mod:`docker_api.testing` provides an in-memory fake Engine for tests.
"""

from .attach import AttachStream
from .client import DockerClient
from .errors import (
    APIError,
    BuildFailed,
    Conflict,
    DaemonUnavailable,
    DockerError,
    NotFound,
    ProtocolError,
    StreamClosed,
)
from .frames import STDERR, STDIN, STDOUT, Frame, FrameParser

__all__ = [
    "STDERR",
    "STDIN",
    "STDOUT",
    "APIError",
    "AttachStream",
    "BuildFailed",
    "Conflict",
    "DaemonUnavailable",
    "DockerClient",
    "DockerError",
    "Frame",
    "FrameParser",
    "NotFound",
    "ProtocolError",
    "StreamClosed",
]
