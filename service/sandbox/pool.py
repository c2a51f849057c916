"""The pool of warm worker containers.

The pool keeps ``workers`` idle containers ready beyond those that are busy, never
more than ``concurrency`` in all: with the defaults (2 and 3) two containers wait
at rest, and a third is warmed as soon as one is taken. Extra idle containers go
after ``idle_shrink_s``. A container is reused after any verdict, a timeout or
an OOM kill included, as long as its agent verified the cleanup; it is removed
and replaced when that cleanup could not be verified, when its job outlived the
host-side deadline, after ``recycle_after`` jobs, or when Docker reports it gone.

An idle container's attach stream is read by a watch task while it waits: the
stream ends the moment the container dies (killed from outside, its agent gone),
so the pool replaces it at once instead of at the next health check, and no job
is handed a container already known dead. ``acquire`` stops the watch (and waits
for it to let go of the stream) before the container is handed out.

``run()`` is the pool's task: it clears leftovers of an earlier run of this
instance, fills the pool, reports ready, then monitors health every
``health_interval_ms``. When it is cancelled it removes every container it made.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import random
from collections.abc import Awaitable, Callable

import trio

from agent.layout import JOB_UIDS
from docker_api import DaemonUnavailable, DockerClient, DockerError
from service.config import Settings
from service.errors import AgentError, PoolUnavailable
from service.languages import served
from service.sandbox.container import (
    IdleWatch,
    State,
    WorkerContainer,
    remove_container,
    start_container,
)
from service.sandbox.image import image_languages
from service.sandbox.spec import instance_filter

log = logging.getLogger(__name__)

Starter = Callable[..., Awaitable[WorkerContainer]]  # start_container's signature

# Why a container is retired (Pool.retire): metrics list each, zero or not.
RETIRE_REASONS = (
    "unusable",
    "recycle_after",
    "admin",
    "gone",
    "docker_unavailable",
    "idle",
    "sized",
    "sentry_tasks",
)


class Pool:
    def __init__(
        self, docker: DockerClient, settings: Settings, *, starter: Starter = start_container
    ) -> None:
        self._docker = docker
        self._settings = settings
        # The languages the worker image holds, with their versions (its label).
        self.image_languages: dict[str, str] = {}
        self._starter = starter
        self._containers: dict[str, WorkerContainer] = {}
        self._idle_send, self._idle_recv = trio.open_memory_channel[WorkerContainer](math.inf)
        self._starting = 0
        self._uids_starting: set[int] = set()  # job uids of containers being started
        self._nursery: trio.Nursery | None = None
        self._filled = trio.Event()
        self.docker_ok = True
        self.last_error: str | None = None
        self.replaced = 0
        # Why containers were retired (the reasons add up to ``replaced``); see retire().
        self.replaced_by: collections.Counter[str] = collections.Counter()
        self._marked: dict[str, str] = {}  # marked dead while busy: the reason, for release()
        self.lost_idle = 0  # idle containers whose stream ended (noticed at once)
        self.lost_before_job = 0  # jobs that found their container dead (run again elsewhere)
        self.workers = settings.workers  # warm containers kept ready; changed by resize()
        self._unremoved: set[str] = set()  # removal failed (Docker down): retried by health checks

    # -- the pool's task -------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[Pool] = trio.TASK_STATUS_IGNORED) -> None:
        """Fill the pool, report ready, then watch it until cancelled.

        Raises:
            PoolUnavailable: the worker image is missing or Docker does not answer
                while the pool is first filled.
        """
        await self._check_image()
        await self._remove_leftovers()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._top_up()
                await self._filled.wait()
                log.info("pool ready: %d warm containers", len(self._containers))
                task_status.started(self)
                await self._monitor()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True), trio.move_on_after(30):
                await self.remove_all()

    async def _check_image(self) -> None:
        try:
            if not await self._docker.images.exists(self._settings.image):
                raise PoolUnavailable(
                    f"worker image {self._settings.image!r} not found; "
                    "run `code-engine build-image` (make run does it for you)"
                )
            self.image_languages = await image_languages(self._docker, self._settings.image)
        except DockerError as exc:
            raise PoolUnavailable(f"Docker does not answer: {exc}") from exc

        missing = [lang.name for lang in served() if lang.name not in self.image_languages]
        if self.image_languages and missing:
            raise PoolUnavailable(
                f"worker image {self._settings.image!r} holds {', '.join(self.image_languages)}; "
                f"this daemon is to serve {', '.join(missing)} too: run `code-engine "
                "build-image` with the same CODE_ENGINE_LANGUAGES"
            )

    async def _remove_leftovers(self) -> None:
        found = await self._docker.containers.list(
            all=True, filters=instance_filter(self._settings.instance_id)
        )
        for item in found:
            log.info("removing leftover container %s", item["Id"][:12])
            await remove_container(self._docker, item["Id"])

    # -- handing containers to workers -------------------------------------------

    async def acquire(self) -> WorkerContainer:
        """Take an idle container, waiting for one to be warmed when none is free.

        On cancellation nothing is taken.
        """
        while True:
            try:
                container = self._idle_recv.receive_nowait()
            except trio.WouldBlock:
                self._top_up()
                container = await self._idle_recv.receive()
            if container.dead or container.id not in self._containers:
                continue
            await self._stop_watching(container)
            if container.dead:  # its stream ended just now
                self.retire(container, "gone")
                continue
            container.state = State.BUSY
            self._top_up()
            return container

    async def acquire_sized(self, memory_mb: int) -> WorkerContainer:
        """A container of its own at ``memory_mb``, started now and retired after its job.

        For a runtime that cannot change a running container's limits (gVisor's
        runsc has no ``update``): a request for less memory than the pool's
        containers have gets one made to measure.

        Raises:
            PoolUnavailable, AgentError: as the pool's own starts.
        """
        container = await self._start(dataclasses.replace(self._settings, memory_mb=memory_mb))
        container.state = State.BUSY
        container.sized = True
        self._containers[container.id] = container
        return container

    def release(
        self, container: WorkerContainer, *, reusable: bool, reason: str = "unusable"
    ) -> None:
        """Give a container back after a job; unless ``reusable``, it is replaced for ``reason``."""
        container.current = None
        container.jobs_served += 1
        container.last_used = trio.current_time()
        marked = self._marked.pop(container.id, None)
        if container.sized:
            self.retire(container, "sized")
        elif not reusable or container.dead:
            self.retire(container, marked or reason)
        elif container.jobs_served >= self._settings.recycle_after:
            self.retire(container, "recycle_after")
        else:
            self._make_idle(container)
        self._top_up()

    def retire(self, container: WorkerContainer, reason: str = "unusable") -> None:
        """Remove a container in the background; the pool warms a replacement.

        ``reason``: ``unusable`` (its job left it unverified or killed), ``recycle_after``
        (served its jobs), ``admin`` (recycle request), ``gone`` (Docker no longer runs
        it), ``docker_unavailable`` (the daemon went away), ``idle`` (an extra one
        shrunk), ``sized`` (made to measure for one job: see acquire_sized),
        ``sentry_tasks`` (a gVisor sandbox left with too many host tasks: see
        :meth:`~.lender.Lender.session`).
        """
        if self._containers.pop(container.id, None) is None:
            return
        container.state = State.RECYCLING
        if container.idle_watch is not None:
            container.idle_watch.scope.cancel()
        self.replaced += 1
        self.replaced_by[reason] += 1
        self._marked.pop(container.id, None)
        if self._nursery is not None:
            self._nursery.start_soon(self._remove, container)
        self._top_up()

    # -- sizing ----------------------------------------------------------------

    @property
    def containers(self) -> list[WorkerContainer]:
        return list(self._containers.values())

    @property
    def busy(self) -> int:
        return sum(1 for c in self._containers.values() if c.state is State.BUSY)

    @property
    def idle(self) -> int:
        return sum(1 for c in self._containers.values() if c.state is State.IDLE)

    @property
    def starting(self) -> int:
        return self._starting

    def _wanted(self) -> int:
        return min(self._settings.concurrency, self.busy + self.workers)

    def resize(self, workers: int) -> None:
        """Keep ``workers`` warm containers ready (1 to ``concurrency``)."""
        self.workers = max(1, min(workers, self._settings.concurrency))
        self._shrink(force=True)
        self._top_up()

    def recycle(self, short_id: str) -> bool:
        """Replace a container now (idle) or after its current job (busy)."""
        for container in self._containers.values():
            if container.id.startswith(short_id):
                self._mark(container, "admin")
                return True
        return False

    async def _start(self, settings: Settings) -> WorkerContainer:
        uid = self._free_job_uid()
        self._uids_starting.add(uid)
        try:
            return await self._starter(self._docker, settings, job_uid=uid)
        finally:
            # No checkpoint between here and the caller's registering the container.
            self._uids_starting.discard(uid)

    def _free_job_uid(self) -> int:
        """A job uid no container of this pool has (or is being given).

        Random among the free ones, so that two daemons sharing a host seldom
        pick the same; where they do, those two containers share per-uid kernel
        quotas, as every container did before uids were per container.
        """
        taken = {c.job_uid for c in self._containers.values()} | self._uids_starting
        free = [uid for uid in JOB_UIDS if uid not in taken]
        return random.choice(free) if free else random.choice(JOB_UIDS)

    def _mark(self, container: WorkerContainer, reason: str) -> None:
        """Replace a container now (idle) or when its job gives it back (busy)."""
        container.dead = True
        if container.state is State.IDLE:
            self.retire(container, reason)
        else:
            self._marked.setdefault(container.id, reason)

    def _top_up(self) -> None:
        if self._nursery is None:
            return
        while len(self._containers) + self._starting < self._wanted():
            self._starting += 1
            self._nursery.start_soon(self._spawn)

    async def _spawn(self) -> None:
        delay = 0.5
        try:
            while True:
                try:
                    container = await self._start(self._settings)
                    break
                except (PoolUnavailable, AgentError) as exc:
                    self.last_error = str(exc)
                    log.warning("could not warm a container (retry in %.1f s): %s", delay, exc)
                    await trio.sleep(delay)
                    delay = min(delay * 2, 10.0)
        finally:
            self._starting -= 1
        self.last_error = None
        self._containers[container.id] = container
        self._make_idle(container)
        if self.idle >= self.workers:
            self._filled.set()

    # -- idle watch ------------------------------------------------------------

    def _make_idle(self, container: WorkerContainer) -> None:
        container.state = State.IDLE
        watch = IdleWatch()
        container.idle_watch = watch
        if self._nursery is None:
            watch.done.set()
        else:
            self._nursery.start_soon(self._watch_idle, container, watch)
        self._idle_send.send_nowait(container)

    async def _watch_idle(self, container: WorkerContainer, watch: IdleWatch) -> None:
        try:
            with watch.scope:
                reason = await container.link.wait_closed()
        finally:
            watch.done.set()
        if watch.scope.cancel_called:
            # Taken by acquire (or retired) as the stream ended: acquire sees ``dead``.
            container.dead = container.dead or not watch.scope.cancelled_caught
            return
        container.dead = True
        if container.id in self._containers and container.state is State.IDLE:
            log.warning("idle container %s died (%s); replacing it", container.short_id, reason)
            self.lost_idle += 1
            self.retire(container, "gone")

    async def _stop_watching(self, container: WorkerContainer) -> None:
        """Stop the idle watch and wait until it no longer reads the stream."""
        watch, container.idle_watch = container.idle_watch, None
        if watch is None:
            return
        watch.scope.cancel()
        with trio.CancelScope(shield=True):
            await watch.done.wait()

    async def _remove(self, container: WorkerContainer) -> None:
        with trio.CancelScope(shield=True):
            await container.link.aclose()
            if not await remove_container(self._docker, container.id):
                self._unremoved.add(container.id)

    async def remove_all(self) -> None:
        """Remove every container of the pool (used on shutdown)."""
        containers = list(self._containers.values())
        self._containers.clear()
        async with trio.open_nursery() as nursery:
            for container in containers:
                nursery.start_soon(self._remove, container)
        if containers:
            log.info("removed %d pool containers", len(containers))
        # Anything else with this instance's label: half-made or orphaned by an outage.
        try:
            await self._remove_leftovers()
        except DockerError as exc:
            log.warning("could not sweep this instance's containers: %s", exc)

    # -- health ----------------------------------------------------------------

    async def _monitor(self) -> None:
        interval = self._settings.health_interval_ms / 1000
        while True:
            await trio.sleep(interval)
            await self.check_health()

    async def check_health(self) -> None:
        """One health pass: find containers Docker no longer runs, shrink idle extras."""
        # Only containers registered before the listing can be missing from it: one
        # warmed while this pass waits on Docker is not gone, only newer.
        known = set(self._containers)
        try:
            listed = await self._docker.containers.list(
                all=True, filters=instance_filter(self._settings.instance_id)
            )
        except DaemonUnavailable as exc:
            if self.docker_ok:
                log.error("Docker daemon unavailable: %s", exc)
                # Every attach stream went through the daemon: none survives it.
                for container in list(self._containers.values()):
                    self._mark(container, "docker_unavailable")
            self.docker_ok = False
            return
        except DockerError as exc:
            log.warning("health check failed: %s", exc)
            return
        if not self.docker_ok:
            log.info("Docker daemon answers again; rebuilding the pool")
        self.docker_ok = True
        for container_id in list(self._unremoved):
            if await remove_container(self._docker, container_id):
                self._unremoved.discard(container_id)
        for item in listed:
            # Exited ones of ours that the pool does not know: left by an outage
            # (created, then the daemon went away before they could be removed).
            if item.get("State") in ("exited", "dead") and item["Id"] not in self._containers:
                await remove_container(self._docker, item["Id"])
        running = {item["Id"] for item in listed if item.get("State") == "running"}
        for container in list(self._containers.values()):
            if container.id in known and container.id not in running:
                log.warning("container %s is gone; replacing it", container.short_id)
                self._mark(container, "gone")
        self._shrink()
        self._top_up()

    def _shrink(self, *, force: bool = False) -> None:
        now = trio.current_time()
        idle = [c for c in self._containers.values() if c.state is State.IDLE]
        extra = len(self._containers) - self._wanted()
        for container in sorted(idle, key=lambda c: c.last_used):
            if extra <= 0:
                break
            if force or now - container.last_used >= self._settings.idle_shrink_s:
                container.dead = True  # still queued in the idle channel: acquire skips it
                self.retire(container, "idle")
                extra -= 1
