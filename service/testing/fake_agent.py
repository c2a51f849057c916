"""Fakes for testing the engine (and code built on it) deterministically.

:class:`FakeAgent` speaks the agent protocol on a
:class:`docker_api.testing.FakeAttachPeer`, with scripted behaviour per job, so
the real pool, executor and dispatcher run against
:class:`docker_api.testing.FakeDockerEngine` without Docker. Nothing here sleeps
on the wall clock: under ``trio.testing.MockClock`` (pytest-trio's
``autojump_clock``), host-side deadlines fire at exact virtual times::

    async def test_agent_that_never_answers(autojump_clock, nursery):
        fake = FakeDockerEngine(images=[SETTINGS.image])
        agent = FakeAgent(never_answer)
        fake.on_attach = lambda peer: nursery.start_soon(agent.serve, peer)
        async with fake.client() as docker:
            pool = await nursery.start(Pool(docker, SETTINGS).run)
            start = trio.current_time()
            reply = await Executor(docker, pool, SETTINGS).execute(request)
        assert reply.status == "timeout"
        assert trio.current_time() - start == deadline_s(request, SETTINGS)

(``tests/unit/test_executor.py`` has this and more, runnable.)

Behaviours are async callables ``(job_message) -> result | None``; ``None``
means "never answer". :func:`answer` builds them.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import trio

from docker_api.testing import FakeAttachPeer
from service.sandbox.agent_link import STDOUT

Behaviour = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


def step_result(
    *,
    stdout: bytes = b"",
    stderr: bytes = b"",
    exit_code: int | None = 0,
    signal: int | None = None,
    timed_out: bool = False,
    output_exceeded: bool = False,
    oom_killed: bool = False,
    wall_ms: float = 1.0,
    memory_kb: int | None = 1024,
) -> dict[str, Any]:
    """A STEPRESULT as the agent reports it."""
    return {
        "exit_code": exit_code,
        "signal": signal,
        "stdout": base64.b64encode(stdout).decode(),
        "stderr": base64.b64encode(stderr).decode(),
        "stdout_truncated": output_exceeded,
        "stderr_truncated": False,
        "timed_out": timed_out,
        "output_exceeded": output_exceeded,
        "oom_killed": oom_killed,
        "wall_ms": wall_ms,
        "cpu_ms": wall_ms,
        "memory_kb": memory_kb,
    }


def answer(*, after: float = 0.0, clean: bool = True, **step: Any) -> Behaviour:
    """A behaviour answering every run with ``step_result(**step)`` after ``after`` seconds."""

    async def behave(message: dict[str, Any]) -> dict[str, Any]:
        await trio.sleep(after)
        compile = step_result(wall_ms=5.0) if message.get("compile") else None
        runs = [step_result(**step) for _ in message.get("runs", [])]
        return {
            "type": "result",
            "id": message.get("id"),
            "compile": compile,
            "runs": runs,
            "clean": clean,
            "error": None,
        }

    return behave


async def never_answer(message: dict[str, Any]) -> None:
    return None


class FakeAgent:
    """Serves the agent protocol on fake attach peers; records what it was sent.

    Jobs that ask for ``early_result`` get their result at once (``clean``
    null) and a ``cleaned`` message ``cleanup_s`` later, as the real agent does;
    ``cleanup_s=None`` means the cleanup never finishes.
    """

    def __init__(
        self, behaviour: Behaviour | None = None, *, cleanup_s: float | None = 0.0
    ) -> None:
        self.behaviour = behaviour or answer(stdout=b"ok\n")
        self.cleanup_s = cleanup_s
        self.received: list[dict[str, Any]] = []

    async def serve(self, peer: FakeAttachPeer) -> None:
        """Say ready, then answer each message until the client hangs up."""
        await peer.send_frame(STDOUT, b'{"type":"ready","version":1}\n')
        buffer = b""
        while chunk := await peer.receive_stdin():
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = msgspec.json.decode(line)
                self.received.append(message)
                reply = await self._reply(message)
                if reply is None:
                    await trio.sleep_forever()
                if not (message.get("early_result") and reply.get("type") == "result"):
                    await peer.send_frame(STDOUT, msgspec.json.encode(reply) + b"\n")
                    continue
                clean = reply["clean"]
                await peer.send_frame(STDOUT, msgspec.json.encode({**reply, "clean": None}) + b"\n")
                if self.cleanup_s is None:
                    await trio.sleep_forever()
                await trio.sleep(self.cleanup_s)
                cleaned = {"type": "cleaned", "id": reply.get("id"), "clean": clean}
                await peer.send_frame(STDOUT, msgspec.json.encode(cleaned) + b"\n")

    async def _reply(self, message: dict[str, Any]) -> dict[str, Any] | None:
        if message.get("type") == "ping":
            return {"type": "pong"}
        return await self.behaviour(message)
