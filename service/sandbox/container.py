"""One worker container: created hardened, attached, started, and its agent ready."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

import trio

from agent import protocol
from agent.layout import JOB_UIDS
from docker_api import DockerClient, DockerError, NotFound
from service.config import Settings
from service.errors import AgentError, AgentVersionMismatch, PoolUnavailable
from service.sandbox import cgroups
from service.sandbox.agent_link import AgentLink
from service.sandbox.spec import container_config

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 30.0


class State(enum.StrEnum):
    WARMING = "warming"
    IDLE = "idle"
    BUSY = "busy"
    RECYCLING = "recycling"


@dataclass(eq=False)
class CurrentJob:
    id: str
    language: str
    started: float


@dataclass(eq=False)
class IdleWatch:
    """The pool's watch on an idle container's attach stream (see ``Pool``)."""

    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)


@dataclass(eq=False)
class WorkerContainer:
    """A running worker container and the link to its agent."""

    id: str
    link: AgentLink
    memory_mb: int  # its limits now (a session fits them to each step)
    cpus: float
    state: State = State.IDLE
    jobs_served: int = 0
    created: float = field(default_factory=trio.current_time)
    last_used: float = field(default_factory=trio.current_time)
    current: CurrentJob | None = None
    dead: bool = False  # set by the pool monitor when Docker says it is gone
    sized: bool = False  # made for one request's memory limit (Pool.acquire_sized)
    job_uid: int = JOB_UIDS[0]  # its jobs' uid, no other container of the pool's
    image_id: str = ""  # the image it runs, by id: part of every compile cache key
    cgroup: cgroups.CgroupFiles | None = None  # its limits, where the daemon writes them itself
    idle_watch: IdleWatch | None = None  # while idle: the task reading its stream for its end

    @property
    def short_id(self) -> str:
        return self.id[:12]


async def start_container(
    docker: DockerClient, settings: Settings, *, job_uid: int = JOB_UIDS[0]
) -> WorkerContainer:
    """Create, attach and start a worker container, and wait for its agent.

    Returns a container whose agent has said it is ready.

    Raises:
        PoolUnavailable: the image is missing or Docker refused.
        AgentError: the agent did not become ready in time (the container is removed).
        AgentVersionMismatch: the image's agent speaks another protocol version.
    On cancellation the half-made container is removed (shielded).
    """
    try:
        container_id = await docker.containers.create(container_config(settings, job_uid=job_uid))
    except NotFound:
        raise PoolUnavailable(
            f"worker image {settings.image!r} not found; run `code-engine build-image`"
        ) from None
    except DockerError as exc:
        raise PoolUnavailable(f"cannot create a worker container: {exc}") from exc
    try:
        # Attach before start so no byte of the agent's output is missed.
        stream = await docker.containers.attach(container_id)
        link = AgentLink(stream, container_id)
        await docker.containers.start(container_id)
        with trio.fail_after(READY_TIMEOUT_S):
            hello = await link.receive()
        if not isinstance(hello, protocol.Ready):
            raise AgentError(container_id, f"expected a ready message, got {hello!r:.200}")
        if hello.version != protocol.PROTOCOL_VERSION:
            raise AgentVersionMismatch(settings.image, hello.version, protocol.PROTOCOL_VERSION)
        info = await docker.containers.inspect(container_id)
        # By id, not by tag: a rebuilt image (another compiler) is another image.
        image_id = str(info.get("Image", ""))
        cgroup = None
        if settings.cgroup_writes and settings.live_updates:
            pid = (info.get("State") or {}).get("Pid")
            cgroup = cgroups.find(container_id, pid if isinstance(pid, int) else 0)
    except BaseException as exc:
        with trio.CancelScope(shield=True):
            await remove_container(docker, container_id)
        if isinstance(exc, trio.TooSlowError):
            raise AgentError(container_id, "agent not ready in time") from None
        if isinstance(exc, DockerError):
            raise PoolUnavailable(f"cannot start a worker container: {exc}") from exc
        raise
    log.debug("container %s ready", container_id[:12])
    return WorkerContainer(
        id=container_id,
        link=link,
        memory_mb=settings.memory_mb,
        cpus=settings.cpus,
        job_uid=job_uid,
        image_id=image_id,
        cgroup=cgroup,
    )


async def remove_container(docker: DockerClient, container_id: str) -> bool:
    """Force-remove a container; one already gone counts as removed. Never raises DockerError.

    Returns False when Docker could not be asked (the caller retries later).
    """
    try:
        await docker.containers.remove(container_id, force=True)
    except NotFound:
        pass
    except DockerError as exc:
        log.warning("could not remove container %s: %s", container_id[:12], exc)
        return False
    return True
