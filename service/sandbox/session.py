"""A request's hold on one pool container: compile, run, finish, kill.

:class:`~.lender.Lender` lends containers (``async with lender.session(request)``);
:class:`Session` is what a job flow does with one. Every exchange with the agent
runs in a cancel scope whose deadline belongs to that exchange alone (the
step's limits plus ``grace_ms``): the agent enforces each step's limits itself,
but the host never trusts it to. If no answer arrives by then, the container is
killed (the pool replaces it) and :class:`AgentTimeout` is raised.

Deadlines, one place each:

========================  ==============================================
exchange                  host deadline
========================  ==============================================
:meth:`Session.job`       compile limit (compiled languages) + run limit + grace
:meth:`Session.compile`   compile limit + grace
:meth:`Session.run`       run limit + grace
:meth:`Session.check`     run limit + grace
:meth:`Session.finish`    ``FINISH_TIMEOUT_S``
:meth:`Session.cleaned`   ``CLEANUP_TIMEOUT_S``
========================  ==============================================

A session looks its request up in the compile cache when it starts
(:class:`~.compile_cache.CompileCache`; only for a language whose compile runs
nothing of the job's, :func:`~.compile_cache.keeps`): on a hit its job carries
the kept program in place of a compile, and nothing is changed on the container
for a compile; on a miss the job asks the agent for the program it compiles.

A container can die before the job's code starts: killed from outside while it
waited, a moment before the pool's watch could notice. The first exchange of a
session therefore tells the two apart: a send that fails, or a stream that ends
on a container whose recorded exit time (Docker's ``FinishedAt``, the moment the
process exited) comes before the job was sent, raises :class:`ContainerLost`,
and the flows run the job again on a fresh container. A container that dies
after the job reached it (or whose exit time is unknown) is the job's loss:
:class:`AgentError` as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import time
from datetime import datetime

import trio

from agent import protocol
from agent.protocol import Cleanup, Result
from docker_api import DockerClient, DockerError

from ..config import Settings
from ..errors import AgentError, AgentTimeout, ContainerLost
from ..requests import ExecuteRequest
from . import job_messages
from .compile_cache import CompileCache, Compiled, cache_key, keeps
from .container import WorkerContainer
from .job_messages import checker_timeout_ms, compile_step, one_shot_job, prepare_job, run_message
from .limits import ContainerLimits

log = logging.getLogger(__name__)

CLEANUP_TIMEOUT_S = 10.0
FINISH_TIMEOUT_S = 10.0
INSPECT_TIMEOUT_S = 5.0
EXIT_WAIT_S = 3.0
# A container killed by SIGKILL (exit status 128 + 9) whose OOM event Docker has
# not handled yet: how long its event log is watched for one. It came 10 to 20 ms
# after the exit where it was late; a container killed otherwise (`docker kill`)
# gets its reply this much later.
SIGKILL_EXIT = 137
OOM_EVENT_WAIT_S = 0.5
KILL_TIMEOUT_S = 10.0
# The attach stream can end a moment before Docker records the exit: how long a
# session waits for that record when it must know whether its job was delivered.
EXIT_RECORD_TIMEOUT_S = 2.0
EXIT_POLL_S = 0.02


def job_deadline_s(request: ExecuteRequest, settings: Settings) -> float:
    """Host-side deadline of a job message that compiles (when needed) and runs once."""
    compile_ms = settings.compile_timeout_ms if request.language.compiled else 0
    return (compile_ms + request.limits.timeout_ms + settings.grace_ms) / 1000


def run_deadline_s(request: ExecuteRequest, settings: Settings, *, checked: bool = False) -> float:
    """Host-side deadline of one run against a kept build (and its check, when ``checked``)."""
    check_ms = checker_timeout_ms(settings) if checked else 0
    return (request.limits.timeout_ms + check_ms + settings.grace_ms) / 1000


def compile_deadline_s(settings: Settings, *, tool: bool = False) -> float:
    """Host-side deadline of a job message that only compiles (a problem's tool too)."""
    compiles = 2 if tool else 1
    return (compiles * settings.compile_timeout_ms + settings.grace_ms) / 1000


class Loss(enum.Enum):
    """Why a container went away during an exchange (:meth:`Session.lost`)."""

    OUT_OF_MEMORY = "out_of_memory"  # the OOM killer took the whole container: the job's doing
    FAILED = "failed"  # the agent or the container failed otherwise: the engine's


class Session:
    """One request on one container. Not for concurrent use.

    ``reusable`` says whether the container goes back to the pool when the
    session ends; it starts False, and only :meth:`settle` and :meth:`finish`
    set it, from what the agent verified.
    """

    def __init__(
        self,
        docker: DockerClient,
        container: WorkerContainer,
        request: ExecuteRequest,
        settings: Settings,
        cache: CompileCache | None = None,
    ) -> None:
        self._docker = docker
        self._settings = settings
        self.container = container
        self.request = request
        self.reusable = False
        self._limits = ContainerLimits(docker, container, settings, self.kill)
        self._delivered = False  # a job message reached the agent on this session
        self._cache = cache
        self._cache_key: str | None = None
        # A successful compile whose program comes with the cleanup report (cleaned).
        self._compiled: protocol.StepResult | None = None
        # The program an identical earlier request compiled: no compile this time.
        self.cached: Compiled | None = None
        if cache is not None and cache.enabled and container.image_id and keeps(request.language):
            step = compile_step(request.language, settings, tuple(f.name for f in request.files))
            if step is not None:
                self._cache_key = cache_key(
                    container.image_id, request.language.name, step, request.source_files()
                )
                self.cached = cache.get(self._cache_key)

    # -- exchanges -------------------------------------------------------------

    async def job(self) -> Result:
        """Write the source, compile it when the language needs it, run once, finish.

        The result comes back as soon as the run is over (cleanup OWED: wait for
        :meth:`cleaned`), unless nothing ran.

        Raises:
            AgentTimeout: no result by the deadline; the container has been killed.
            AgentError: the agent went away or failed.
        """
        message = self._with_cache(one_shot_job(self.request, self._settings))
        return self._keep(
            await self._exchange(message, job_deadline_s(self.request, self._settings))
        )

    async def compile(self) -> Result:
        """Write the source and compile it; the build is kept for :meth:`run`.

        The compile step gets ``compile_cpus`` (compilers use several threads)
        and the compile memory (the request's, raised to what the compiler needs:
        :attr:`compile_memory_mb`); the container is back at ``cpus`` and the
        request's memory before any run.

        Raises:
            AgentTimeout, AgentError: as :meth:`job`.
            DockerError: the container could not be set to the run's memory.
        """
        message = self._with_cache(prepare_job(self.request, self._settings))
        limit = compile_deadline_s(self._settings, tool=message.tool is not None)
        settings = self._settings
        apart = self.request.language.compiled and self.compiles_apart
        if not (apart and settings.live_updates):  # no limits to change for the compile
            return self._keep(await self._exchange(message, limit))
        await self._limits.fit(self.compile_memory_mb, settings.compile_cpus)
        try:
            result = self._keep(await self._exchange(message, limit))
        except BaseException:
            # The exchange's error is the one to report; a container whose limits
            # cannot be restored is written off by ContainerLimits.fit (never handed out again).
            with trio.CancelScope(shield=True), contextlib.suppress(DockerError):
                if not self.container.dead:
                    await self._limits.fit(self.request.limits.memory_mb, settings.cpus)
            raise
        with trio.CancelScope(shield=True):
            await self._limits.fit(self.request.limits.memory_mb, settings.cpus)
        return result

    async def run(self, stdin: bytes, *, finish: bool, answer: bytes | None = None) -> Result:
        """Run the kept build once with ``stdin``.

        The result comes first (cleanup OWED: wait for :meth:`cleaned`, which
        has its own deadline); then the agent wipes the run's traces, and with
        ``finish`` the build too. With ``answer`` (a problem with a checker) the
        checker checks the run.

        Raises:
            AgentTimeout, AgentError: as :meth:`job`.
        """
        if self._settings.live_updates and not self.container.sized:  # after a cleanup
            await self._limits.fit(self.request.limits.memory_mb, self._settings.cpus)
        message = run_message(self.request, self._settings, stdin, finish=finish, answer=answer)
        checked = message.checks is not None
        limit = run_deadline_s(self.request, self._settings, checked=checked)
        return await self._exchange(message, limit)

    async def check(self, *, kept: bool) -> Result | None:
        """The syntax check of the kept build (``kept``) or of the source sent again; None if none.

        Raises:
            AgentTimeout, AgentError: as :meth:`job`.
        """
        if (step := job_messages.check_step(self.request, self._settings)) is None:
            return None
        if self._settings.live_updates and not self.container.sized:  # after a cleanup
            await self._limits.fit(self.request.limits.memory_mb, self._settings.cpus)
        message = (job_messages.check_run if kept else job_messages.check_job)(self.request, step)
        return await self._exchange(message, run_deadline_s(self.request, self._settings))

    async def fit(self, result: Result) -> bool:
        """Whether the container is fit for another job after ``result``: the one place that says.

        It is when the agent verified it clean (in the result, or in the
        cleanup it owed: waited for here) and the OOM killer struck in none of
        the result's steps: Docker's ``OOMKilled`` stays set for the rest of a
        container's life, and it is what tells a later job's container loss to
        the OOM killer from any other (:meth:`lost`).
        """
        if oom_struck(result) or result.cleanup is Cleanup.DIRTY:
            return False
        if result.cleanup is Cleanup.OWED:
            return await self.cleaned()
        return True

    async def settle(self, result: Result) -> None:
        """The container goes back to the pool after ``result`` when it is :meth:`fit`.

        (:meth:`finish` decides for the wipe that ends a kept build.)
        """
        self.reusable = await self.fit(result)

    async def lost(self) -> Loss:
        """Why the container went away during an exchange: the one place that says.

        Out of memory when the OOM killer took the whole container (the job's
        doing); otherwise the engine's failure, and the container is killed.
        Either way it is not reused.
        """
        if await self.oom_killed():
            return Loss.OUT_OF_MEMORY
        await self.kill()
        return Loss.FAILED

    async def finish(self) -> bool:
        """Wipe everything, the build included; True (and reusable) when the agent verified it."""
        message = protocol.Finish(id=self.request.id)
        self.reusable = False
        with trio.move_on_after(FINISH_TIMEOUT_S) as scope:
            try:
                finished = await self.container.link.request(message, protocol.Finished)
            except AgentError as exc:
                log.warning("container %s: %s", self.container.short_id, exc)
                return False
        if scope.cancelled_caught:
            log.warning("container %s did not finish in time", self.container.short_id)
            await self.kill()
            return False
        self.reusable = finished.clean
        return finished.clean

    async def cleaned(self) -> bool:
        """Wait for the cleanup an early result owes; True when it was verified.

        A cleanup that overruns ``CLEANUP_TIMEOUT_S`` gets the container killed
        (the pool replaces it); the result already received stands.
        """
        await self._idle_share()
        with trio.move_on_after(CLEANUP_TIMEOUT_S):
            try:
                message = await self.container.link.receive_type(protocol.Cleaned)
            except AgentError as exc:
                log.warning("container %s: %s", self.container.short_id, exc)
                return False
            self._keep_program(message.program)
            return message.clean
        log.warning("container %s did not finish its cleanup in time", self.container.short_id)
        await self.kill()
        return False

    async def kill(self) -> None:
        """Kill the container at once (shielded); the pool replaces it when the session ends."""
        self.container.dead = True
        with trio.CancelScope(shield=True), trio.move_on_after(KILL_TIMEOUT_S):
            try:
                await self._docker.containers.kill(self.container.id)
            except DockerError:
                pass

    async def oom_killed(self) -> bool:
        """After the agent went away: did the OOM killer take the whole container?

        Docker's flag covers the container's whole life; it speaks of this job
        because a container is never reused after an OOM kill (:meth:`fit`). The
        flag alone misses some: Docker sets it when it handles the exit, and the
        shim's OOM event can come a few milliseconds after the exit (seen in one
        gVisor sandbox in twelve, memory bombs on a loaded host), so a container
        that died by SIGKILL without it is asked about in Docker's event log.
        """
        self.container.dead = True
        with trio.CancelScope(shield=True):
            # The stream can end before Docker sees the container stop: gVisor's
            # sandbox takes a moment to go once the OOM killer took its Sentry.
            with trio.move_on_after(EXIT_WAIT_S):
                try:
                    await self._docker.containers.wait(self.container.id)
                except DockerError:
                    pass
            info: dict = {}
            with trio.move_on_after(INSPECT_TIMEOUT_S):
                try:
                    info = await self._docker.containers.inspect(self.container.id)
                except DockerError:
                    return False
            state = info.get("State") or {"Running": True}  # unknown: not the job's doing
            if state.get("Running"):
                return False  # the stream broke, not the container
            if state.get("OOMKilled"):
                return True
            if state.get("ExitCode") != SIGKILL_EXIT:
                return False  # no OOM kill ends a container otherwise
            started = docker_time(str(state.get("StartedAt", "")))
            return started is not None and await self._oom_event_since(started)
        return False  # not reached: the shielded scope swallows nothing

    async def _oom_event_since(self, started: float) -> bool:
        """Docker logged an OOM event of this container since ``started`` (or does soon)."""
        filters = {"container": [self.container.id], "event": ["oom"]}
        until = time.time() + OOM_EVENT_WAIT_S
        with trio.move_on_after(OOM_EVENT_WAIT_S + INSPECT_TIMEOUT_S):
            try:
                async with contextlib.aclosing(
                    self._docker.system.events(started, until, filters)
                ) as events:
                    async for _ in events:
                        return True
            except DockerError:
                pass
        return False

    async def fit_first_step(self) -> None:
        """Fit the container's memory to the request's first step.

        The container's cgroup is the memory limit; a request asking for less
        gets it lowered for its run (and raised again by the next request). A
        compile step that runs apart starts at the compile memory instead
        (:meth:`compile` lowers it for the run).

        Raises:
            DockerError: the container's limits could not be set.
        """
        if self.container.sized or not self._settings.live_updates:
            return  # made to measure, or not resizable at all
        compiles_first = (
            self.request.language.compiled and self.cached is None and self.compiles_apart
        )
        memory_mb = self.compile_memory_mb if compiles_first else self.request.limits.memory_mb
        # compile() takes the compile share itself; anything else runs at the run's
        # (a container the last cleanup left at the idle share is put back here).
        cpus = self._settings.compile_cpus if compiles_first else self._settings.cpus
        await self._limits.fit(memory_mb, cpus)

    # -- internals -------------------------------------------------------------

    async def _idle_share(self) -> None:
        """The compile share while the agent cleans up and starts the next warm interpreters.

        Engine work, not the job's (its processes are gone before its result): a
        warm Node.js takes some 53 ms of CPU to start, over 100 ms of wall time at a
        0.5 CPU share, and a request arriving meanwhile waits for the rest. Only
        where the cgroup is written directly (microseconds, no Docker call),
        for a container of the pool; every step that runs a job's code is put
        back at the run's share first (:meth:`fit_first_step`, :meth:`run`).
        """
        settings, container = self._settings, self.container
        if (
            container.cgroup is None
            or container.sized
            or container.dead
            or not settings.live_updates
            or settings.compile_cpus <= container.cpus
        ):
            return
        if await self._limits.write_cgroup(container.memory_mb, settings.compile_cpus):
            container.cpus = settings.compile_cpus

    def _with_cache(self, message: protocol.Job) -> protocol.Job:
        """``message`` with the kept program in place of its compile, or asking for it."""
        if self._cache_key is None or message.compile is None:
            return message
        name = self.request.language.program_file
        if self.cached is None:
            return dataclasses.replace(message, collect=name)
        return dataclasses.replace(message, compile=None, collect=name, program=self.cached.program)

    def _keep(self, result: Result) -> Result:
        """``result`` as the flows read it: a cache hit carries the kept compile's diagnostics."""
        if self.cached is not None:
            return dataclasses.replace(result, compile=self.cached.compile)
        if result.compile is not None and not result.compile.failed:
            self._compiled = result.compile
        program, result = result.program, dataclasses.replace(result, program=None)
        self._keep_program(program)
        return result

    def _keep_program(self, program: bytes | None) -> None:
        """Keep what this session's successful compile made (from a result or a cleanup)."""
        if program is None or self._compiled is None:
            return
        if self._cache is not None and self._cache_key is not None:
            self._cache.put(self._cache_key, program, self._compiled)
        self._compiled = None

    @property
    def compile_memory_mb(self) -> int:
        """The compile step's memory: the request's, raised to its language's floor."""
        return self.request.language.compile_memory_mb(
            self.request.limits.memory_mb, self._settings.compile_memory
        )

    @property
    def compiles_apart(self) -> bool:
        """The compile step runs under other limits than the run: two exchanges, not one.

        Always where the runtime cannot change a running container's limits
        (gVisor): the compile shares the run's limits there, but an out-of-memory
        takes the whole sandbox, and only the exchange it broke tells the
        compiler's from the program's.
        """
        settings = self._settings
        if self.cached is not None:
            return False  # nothing to compile: the kept program runs at once
        if not settings.live_updates:
            return True
        return settings.compile_cpus != settings.cpus or self.compile_memory_mb != (
            self.request.limits.memory_mb
        )

    async def _exchange(self, message: protocol.Job | protocol.Run, limit_s: float) -> Result:
        with trio.move_on_after(limit_s) as scope:
            result = await self._request(message)
        if scope.cancelled_caught:
            await self.kill()
            raise AgentTimeout(self.container.id, f"no answer within {limit_s:.1f} s")
        if result.error:
            raise AgentError(self.container.id, f"agent error: {result.error}")
        return result

    async def _request(self, message: protocol.Job | protocol.Run) -> Result:
        link = self.container.link
        if self._delivered:
            return await link.request(message, Result)
        sent_at = time.time()
        try:
            await link.send(message)
        except AgentError as exc:
            raise self.mark_lost(exc.reason) from None
        try:
            result = await link.receive_type(Result)
        except AgentError as exc:
            if await self._dead_before(sent_at):
                raise self.mark_lost(exc.reason) from None
            self._delivered = True
            raise
        self._delivered = True
        return result

    def mark_lost(self, reason: str) -> ContainerLost:
        """Write the container off as dead before the job; the error to raise."""
        self.container.dead = True
        return ContainerLost(self.container.id, f"dead before the job started ({reason})")

    async def _dead_before(self, sent_at: float) -> bool:
        """After the stream ended: had the container exited before ``sent_at`` (wall clock)?"""
        state: dict = {}
        with trio.CancelScope(shield=True), trio.move_on_after(EXIT_RECORD_TIMEOUT_S):
            while True:
                try:
                    info = await self._docker.containers.inspect(self.container.id)
                except DockerError:
                    return False  # removed, or Docker down: when it died is unknown
                state = info.get("State") or {}
                if not state.get("Running"):
                    break
                await trio.sleep(EXIT_POLL_S)
        if state.get("Running", True) or state.get("OOMKilled"):
            return False
        finished = docker_time(str(state.get("FinishedAt", "")))
        return finished is not None and finished < sent_at


def docker_time(text: str) -> float | None:
    """Seconds since the epoch of a Docker timestamp (nanoseconds cut to microseconds).

    None for Docker's "never" (year 1) and for anything that does not parse.
    """
    if not text or text.startswith("0001-"):
        return None
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def with_compile(result: Result, compile: protocol.StepResult | None) -> Result:
    """``result`` (of a run) carrying the compile step of the job that prepared it."""
    return dataclasses.replace(result, compile=compile)


def oom_struck(result: Result) -> bool:
    """The OOM killer killed a process of one of the result's steps."""
    steps = [result.compile, *result.runs] if result.compile else result.runs
    return any(step.oom_killed for step in steps)
