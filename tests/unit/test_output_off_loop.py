"""Work on a large output runs in a worker thread while the event loop runs other tasks.

Each test holds the output work (a comparison, a reply being built) inside its
thread until a task on the event loop has run: the work reports itself from the
thread through the loop (``trio.from_thread``, which only returns once the loop
ran it), and waits to be let go. Work run on the loop instead would finish
before any other task ran, and the test says so.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import trio

from service.config import Settings
from service.intake import Incoming
from service.intake.memory import MemoryIntake
from service.jobs import Executor, Judge, compiler, grading
from service.jobs.fitting import Fitted
from service.operations.discovery import EndpointStats
from service.operations.metrics import Metrics
from service.requests import limits_for, parse_request
from service.sandbox.lender import Lender
from service.scheduling.replies import Replies
from service.testing import FakeAgent, answer, start_fake_pool, step_result
from wire import Kind, Status
from wire.replies import ProblemReply
from wire.replies import TestReport as Report

SETTINGS = Settings.from_env({}, instance_id="unit", workers=1, concurrency=1)
BIG = b"1 " * (1 << 19)  # 1 MiB of output: 512k tokens to compare
SMALL = b"1 2 3\n"


class Held:
    """Wraps output work: records the thread it runs in, and holds it there until let go."""

    def __init__(self, work: Callable[..., Any]) -> None:
        self.work = work
        self.threads: list[threading.Thread] = []
        self.under_way = trio.Event()
        self.go = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread())
        if threading.current_thread() is not threading.main_thread():
            trio.from_thread.run_sync(self.under_way.set)
            assert self.go.wait(timeout=60), "never let go"
        return self.work(*args, **kwargs)


async def another_task_runs() -> None:
    """Returns once a task of its own has been scheduled, several steps."""
    done = trio.Event()

    async def steps() -> None:
        for _ in range(3):
            await trio.lowlevel.checkpoint()
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(steps)
        await done.wait()


async def while_held(held: Held, work: Callable[[], Any]) -> Any:
    """``await work()``: once ``held`` is under way in its thread, another task runs, then
    it goes on."""
    results = []

    async def run() -> None:
        results.append(await work())
        assert held.under_way.is_set(), "the work ran on the event loop"

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await held.under_way.wait()
        await another_task_runs()
        held.go.set()
    return results[0]


def problem(output: bytes, expected: bytes, compare: str = "float"):
    body = {
        "language": "python",
        "code": base64.b64encode(b"print(1)").decode(),
        "tests": [{"expected_output": base64.b64encode(expected).decode()}],
        "compare": compare,
    }
    payload = json.dumps(body).encode()
    return parse_request(payload, Kind.PROBLEMS, limits_for(Kind.PROBLEMS, SETTINGS))


async def sandbox(nursery: trio.Nursery, output: bytes) -> Lender:
    fake, docker, pool = await start_fake_pool(nursery, FakeAgent(answer(stdout=output)), SETTINGS)
    return Lender(docker, pool, SETTINGS)


async def test_a_large_output_is_compared_in_a_thread_while_the_loop_runs(nursery, monkeypatch):
    held = Held(grading.matches)
    monkeypatch.setattr(grading, "matches", held)
    judge = Judge(await sandbox(nursery, BIG))
    request = problem(BIG, BIG.replace(b" ", b"\n"))
    reply = await while_held(held, lambda: judge.judge(request, request.problem))
    assert held.threads != [] and threading.main_thread() not in held.threads
    assert [t.status for t in reply.tests] == [Status.ACCEPTED]


async def test_a_small_output_is_compared_on_the_loop(nursery, monkeypatch):
    held = Held(grading.matches)
    monkeypatch.setattr(grading, "matches", held)
    judge = Judge(await sandbox(nursery, SMALL))
    request = problem(SMALL, b"1\n2\n3")
    reply = await judge.judge(request, request.problem)
    assert held.threads == [threading.main_thread()]
    assert [t.status for t in reply.tests] == [Status.ACCEPTED]


async def test_a_large_output_becomes_a_compiler_reply_in_a_thread(nursery, monkeypatch):
    held = Held(compiler.run_reply)
    monkeypatch.setattr(compiler, "run_reply", held)
    executor = Executor(await sandbox(nursery, BIG))
    request = problem(BIG, BIG)  # its problem part is not the executor's business
    reply = await while_held(held, lambda: executor.execute(request))
    assert held.threads != [] and threading.main_thread() not in held.threads
    assert reply.status is Status.OK and len(reply.output) == len(BIG)


async def test_a_small_output_becomes_a_compiler_reply_on_the_loop(nursery, monkeypatch):
    held = Held(compiler.run_reply)
    monkeypatch.setattr(compiler, "run_reply", held)
    executor = Executor(await sandbox(nursery, SMALL))
    reply = await executor.execute(problem(SMALL, SMALL))
    assert held.threads == [threading.main_thread()]
    assert reply.output == SMALL.decode()


def test_what_grading_reads_is_output_error_and_expected_output():
    request = problem(SMALL, b"12345")
    assert request.problem is not None
    step = step_result(stdout=b"x" * 10, stderr=b"y" * 100)
    assert grading.grading_size(step, request.problem.tests[0]) == 115


async def test_a_fitted_reply_is_sent_as_it_was_encoded():
    intake = MemoryIntake(instance_id="unit")
    endpoints = {kind: EndpointStats(kind.value, f"{kind}.subject", "q") for kind in Kind}
    replies = Replies(intake, Metrics(), endpoints)
    incoming = Incoming(Kind.PROBLEMS, "problems.execute.request", "inbox", b"{}")
    reply = ProblemReply(
        id="p",
        language="python",
        success=True,
        status=Status.ACCEPTED,
        tests=[Report(id="1", status=Status.ACCEPTED, passed=True)],
    )
    replies.responder(incoming)(Fitted(reply, b"as encoded off the loop"))
    [sent] = intake.sent_to("inbox")
    assert sent.payload == b"as encoded off the loop"
