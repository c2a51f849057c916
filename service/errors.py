"""The engine's exceptions. Everything the service raises on purpose derives from one root::

    EngineError
    ├── ConfigError          a setting does not parse or is out of range
    ├── InvalidRequest       a request broke the protocol (the reply says what)
    ├── AgentError           the in-container agent broke its protocol or went away
    │   ├── AgentTimeout     no result arrived by the host-side deadline
    │   └── ContainerLost    the container was dead before the job reached it (retried)
    ├── PoolUnavailable      no container could be started (image missing, daemon down)
    ├── AgentVersionMismatch the worker image's agent speaks another protocol version
    └── ImageBuildError      the worker image could not be built

Docker-level failures keep their own root (:class:`docker_api.DockerError`) and are
translated where the service meets them.
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of the service's exceptions."""


class ConfigError(EngineError):
    """A setting does not parse or is out of range."""


class InvalidRequest(EngineError):
    """A request broke the protocol; ``str(exc)`` is the reason sent back to the client."""


class AgentError(EngineError):
    """The agent inside a container broke its protocol or went away."""

    def __init__(self, container_id: str, reason: str) -> None:
        super().__init__(f"agent in {container_id[:12]}: {reason}")
        self.container_id = container_id
        self.reason = reason


class AgentTimeout(AgentError):
    """No result arrived from the agent by the host-side deadline."""


class ContainerLost(AgentError):
    """The container turned out dead before the job's code started.

    Nothing of the job ran, so the flows run it again on a fresh container.
    """


class PoolUnavailable(EngineError):
    """No container could be started (image missing, Docker daemon down)."""


class AgentVersionMismatch(EngineError):
    """The worker image's agent speaks another protocol version than this daemon.

    Not retried: every container of the image would say the same. Rebuild the
    image from this checkout (``code-engine build-image``).
    """

    def __init__(self, image: str, agent_version: int, host_version: int) -> None:
        super().__init__(
            f"the agent in image {image!r} speaks protocol version {agent_version}, "
            f"this daemon speaks {host_version}; rebuild it with `code-engine build-image`"
        )
        self.agent_version = agent_version
        self.host_version = host_version


class ImageBuildError(EngineError):
    """The worker image could not be built."""
