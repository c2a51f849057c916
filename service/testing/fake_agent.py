"""A scripted agent for deterministic tests of the engine (and code built on it).

:class:`FakeAgent` speaks the agent protocol (:mod:`agent.protocol`, the same
messages the real agent decodes) on a :class:`docker_api.testing.FakeAttachPeer`,
with scripted behaviour per job, so the real pool, sandbox sessions, flows and
dispatcher run against :class:`docker_api.testing.FakeDockerEngine` without
Docker. Nothing here sleeps on the wall clock: under ``trio.testing.MockClock``
(pytest-trio's ``autojump_clock``), host-side deadlines fire at exact virtual
times::

    async def test_agent_that_never_answers(autojump_clock, nursery):
        fake = FakeDockerEngine(images=[SETTINGS.image])
        agent = FakeAgent(never_answer)
        fake.on_attach = lambda peer: nursery.start_soon(agent.serve, peer)
        async with fake.client() as docker:
            pool = await nursery.start(Pool(docker, SETTINGS).run)
            start = trio.current_time()
            reply = await Executor(Lender(docker, pool, SETTINGS)).execute(request)
        assert reply.status == "timeout"
        assert trio.current_time() - start == job_deadline_s(request, SETTINGS)

(``tests/unit/test_executor.py`` has this and more, runnable.)

Behaviours are async callables ``(job or run message) -> Result | None``;
``None`` means "never answer". :func:`answer` builds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from agent import protocol
from agent.protocol import Cleaned, Cleanup, Finished, HostMessage, Job, Result, Run, StepResult
from docker_api import DockerClient
from docker_api.testing import FakeAttachPeer, FakeDockerEngine

from ..config import Settings
from ..sandbox.agent_link import STDOUT
from ..sandbox.pool import Pool

Behaviour = Callable[[Job | Run], Awaitable[Result | None]]


def step_result(
    *,
    stdout: bytes = b"",
    stderr: bytes = b"",
    exit_code: int | None = 0,
    signal: int | None = None,
    timed_out: bool = False,
    cpu_exceeded: bool = False,
    output_exceeded: bool = False,
    oom_killed: bool = False,
    memory_limit_reached: bool = False,
    wall_ms: float = 1.0,
    cpu_ms: float | None = None,
    memory_kb: int | None = 1024,
    stderr_truncated: bool = False,
    feedback: dict[str, bytes] | None = None,
) -> StepResult:
    """A step result as the agent reports it."""
    return StepResult(
        exit_code=exit_code,
        signal=signal,
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=output_exceeded,
        stderr_truncated=stderr_truncated,
        timed_out=timed_out,
        cpu_exceeded=cpu_exceeded,
        output_exceeded=output_exceeded,
        oom_killed=oom_killed,
        memory_limit_reached=memory_limit_reached or oom_killed,
        wall_ms=wall_ms,
        cpu_ms=wall_ms if cpu_ms is None else cpu_ms,
        memory_kb=memory_kb,
        feedback=feedback or {},
    )


def answer(*, after: float = 0.0, clean: bool = True, **step: Any) -> Behaviour:
    """A behaviour answering every run with ``step_result(**step)`` after ``after`` seconds."""

    async def behave(message: Job | Run) -> Result:
        await trio.sleep(after)
        compile = step_result(wall_ms=5.0) if isinstance(message, Job) and message.compile else None
        return Result(
            id=message.id,
            compile=compile,
            runs=[step_result(**step) for _ in message.runs],
            cleanup=Cleanup.CLEAN if clean else Cleanup.DIRTY,
        )

    return behave


def fake_program(files: dict[str, bytes]) -> bytes:
    """The bytes FakeAgent says a compile of ``files`` produced."""
    digest = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()
    return f"program of {digest}".encode()


async def never_answer(message: Job | Run) -> None:
    return None


class FakeAgent:
    """Serves the agent protocol on fake attach peers; records what it was sent.

    Messages that ask for ``early_result`` get their result at once (cleanup
    OWED) and a ``cleaned`` message ``cleanup_s`` later, as the real agent does;
    ``cleanup_s=None`` means the cleanup never finishes. ``cleanup_s`` may also
    be a function of the message, for a cleanup that takes long after one run only.
    """

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        cleanup_s: float | Callable[[Job | Run], float | None] | None = 0.0,
        version: int = protocol.PROTOCOL_VERSION,
    ) -> None:
        self.behaviour = behaviour or answer(stdout=b"ok\n")
        self.cleanup_s = cleanup_s
        self.version = version
        self.received: list[HostMessage] = []

    async def serve(self, peer: FakeAttachPeer) -> None:
        """Say ready, then answer each message until the client hangs up."""
        await peer.send_frame(STDOUT, protocol.encode(protocol.Ready(self.version)))
        messages = protocol.MessageBuffer()
        while chunk := await peer.receive_stdin():
            messages.feed(chunk)
            while (parsed := messages.next()) is not None:
                message = protocol.host_message_from(parsed)
                self.received.append(message)
                await self._answer(peer, message)

    async def _answer(self, peer: FakeAttachPeer, message: HostMessage) -> None:
        if isinstance(message, (protocol.Ping, protocol.Shed)):
            await peer.send_frame(STDOUT, protocol.encode(protocol.Pong()))
            return
        if isinstance(message, protocol.Finish):
            await peer.send_frame(STDOUT, protocol.encode(Finished(message.id, clean=True)))
            return
        result = await self.behaviour(message)
        if result is None:
            await trio.sleep_forever()
            return
        program = None
        if isinstance(message, Job) and message.collect and message.compile and result.compiled:
            # What the real agent reads back after a compile: a program of these files,
            # in the result, or with the cleanup report of an early one.
            program = result.program or fake_program(message.files)
        if not message.early_result:
            result.program = program
            await peer.send_frame(STDOUT, protocol.encode(result))
            return
        clean = result.cleanup is Cleanup.CLEAN
        result.cleanup = Cleanup.OWED
        await peer.send_frame(STDOUT, protocol.encode(result))
        cleanup_s = self.cleanup_s(message) if callable(self.cleanup_s) else self.cleanup_s
        if cleanup_s is None:
            await trio.sleep_forever()
        await trio.sleep(cleanup_s)
        report = Cleaned(message.id, clean, program if clean else None)
        await peer.send_frame(STDOUT, protocol.encode(report))


async def start_fake_pool(
    nursery: trio.Nursery, agent: FakeAgent, settings: Settings
) -> tuple[FakeDockerEngine, DockerClient, Pool]:
    """A pool of ``settings`` on a fake Docker engine whose containers ``agent`` serves.

    The client stays open for the test's life (the nursery's).
    """
    fake = FakeDockerEngine(images=[settings.image])
    fake.on_attach = lambda peer: nursery.start_soon(agent.serve, peer)
    docker = fake.client()
    await docker.__aenter__()
    pool = await nursery.start(Pool(docker, settings).run)
    return fake, docker, pool


def running(fake: FakeDockerEngine) -> list[str]:
    """The fake engine's running containers."""
    return [cid for cid, c in fake.containers.items() if c.running]
