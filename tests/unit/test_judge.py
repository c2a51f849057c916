"""The problems flow on Trio's mock clock: per-test deadlines, clean state, lost containers."""

from __future__ import annotations

import base64
import json

import pytest
import trio
import trio.testing

from agent import protocol
from agent.protocol import Cleanup, Job, Result, Run
from docker_api.testing import FakeDockerEngine
from service.config import Settings
from service.jobs import Judge
from service.requests import limits_for, parse_request
from service.sandbox.lender import Lender
from service.sandbox.pool import Pool
from service.sandbox.session import (
    CLEANUP_TIMEOUT_S,
    compile_deadline_s,
    run_deadline_s,
)
from service.testing import FakeAgent, step_result
from wire import Kind, Status

SETTINGS = Settings.from_env({}, instance_id="unit", workers=1, concurrency=2)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def problem_request(*tests: tuple[str, str], language: str = "cpp", **fields):
    body = {
        "language": language,
        "code": b64("int main() {}"),
        "tests": [{"stdin": b64(i), "expected_output": b64(o)} for i, o in tests],
        **fields,
    }
    payload = json.dumps(body).encode()
    return parse_request(payload, Kind.PROBLEMS, limits_for(Kind.PROBLEMS, SETTINGS))


class Scripted:
    """An agent behaviour that echoes each test's stdin, with per-input tricks."""

    def __init__(self) -> None:
        self.hang_on: set[bytes] = set()
        self.dirty_on: set[bytes] = set()
        self.compile_fails = False
        self.hung = trio.Event()  # a run of ``hang_on`` arrived

    async def __call__(self, message: Job | Run) -> Result | None:
        if isinstance(message, Job):
            compile = step_result(exit_code=1 if self.compile_fails else 0, stderr=b"bad")
            return Result(id=message.id, compile=compile)
        stdin = message.runs[0].stdin
        if stdin in self.hang_on:
            self.hung.set()
            return None
        return Result(
            id=message.id,
            runs=[step_result(stdout=stdin)],
            cleanup=Cleanup.DIRTY if stdin in self.dirty_on else Cleanup.CLEAN,
        )


async def start(
    nursery, behaviour, **agent_options
) -> tuple[FakeAgent, FakeDockerEngine, Pool, Judge]:
    agent = FakeAgent(behaviour, **agent_options)
    fake = FakeDockerEngine(images=[SETTINGS.image])
    fake.on_attach = lambda peer: nursery.start_soon(agent.serve, peer)
    docker = fake.client()
    await docker.__aenter__()
    pool = await nursery.start(Pool(docker, SETTINGS).run)
    return agent, fake, pool, Judge(Lender(docker, pool, SETTINGS))


async def test_compiles_once_and_grades_every_test(nursery, autojump_clock):
    agent, fake, pool, judge = await start(nursery, Scripted())
    request = problem_request(("1", "1"), ("2", "3"), ("4", "4"))
    reply = await judge.judge(request, request.problem)
    assert [t.status for t in reply.tests] == [
        Status.ACCEPTED,
        Status.WRONG_ANSWER,
        Status.ACCEPTED,
    ]
    assert reply.status is Status.WRONG_ANSWER and reply.passed == 2 and reply.total == 3
    kinds = [type(m) for m in agent.received if not isinstance(m, protocol.Ping)]
    assert kinds == [Job, Run, Run, Run, protocol.Finish]
    runs = [m for m in agent.received if isinstance(m, Run)]
    assert all(not m.finish for m in runs)  # the build is kept until Finish
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 0


async def test_a_hung_test_costs_its_own_deadline_and_the_rest_continue(nursery, autojump_clock):
    behaviour = Scripted()
    behaviour.hang_on = {b"2"}
    agent, fake, pool, judge = await start(nursery, behaviour)
    request = problem_request(("1", "1"), ("2", "2"), ("3", "3"), timeout_ms=1000)
    start_time = trio.current_time()
    reply = await judge.judge(request, request.problem)
    assert [t.status for t in reply.tests] == [Status.ACCEPTED, Status.TIMEOUT, Status.ACCEPTED]
    # The answered tests take no virtual time; the hung one exactly its run deadline.
    assert trio.current_time() - start_time == pytest.approx(run_deadline_s(request, SETTINGS))
    assert run_deadline_s(request, SETTINGS) == 1.0 + SETTINGS.grace_ms / 1000
    # Its container was killed; the third test ran on a fresh one, compiled again.
    assert sum(isinstance(m, Job) for m in agent.received) == 2
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 1


async def test_an_unverified_cleanup_moves_the_rest_to_a_fresh_container(nursery, autojump_clock):
    behaviour = Scripted()
    behaviour.dirty_on = {b"1"}
    agent, fake, pool, judge = await start(nursery, behaviour)
    request = problem_request(("1", "1"), ("2", "2"))
    reply = await judge.judge(request, request.problem)
    assert reply.status is Status.ACCEPTED
    assert sum(isinstance(m, Job) for m in agent.received) == 2
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 1


async def test_a_cleanup_that_overruns_replaces_the_container_and_the_verdict_stands(
    nursery, autojump_clock
):
    # The test itself finished in time; the wipe after it took too long.
    def cleanup_s(message: Job | Run) -> float | None:
        return None if isinstance(message, Run) and message.runs[0].stdin == b"1" else 0.0

    agent, fake, pool, judge = await start(nursery, Scripted(), cleanup_s=cleanup_s)
    request = problem_request(("1", "1"), ("2", "2"), timeout_ms=1000)
    start_time = trio.current_time()
    reply = await judge.judge(request, request.problem)
    assert [t.status for t in reply.tests] == [Status.ACCEPTED, Status.ACCEPTED]
    # The cleanup had its own deadline, not the test's.
    assert trio.current_time() - start_time == pytest.approx(CLEANUP_TIMEOUT_S)
    assert sum(isinstance(m, Job) for m in agent.received) == 2
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 1


async def test_a_test_that_takes_its_container_over_the_memory_limit_is_memory_limit(
    nursery, autojump_clock
):
    behaviour = Scripted()
    behaviour.hang_on = {b"2"}
    agent, fake, pool, judge = await start(nursery, behaviour)
    request = problem_request(("1", "1"), ("2", "2"), ("3", "3"), memory_mb=128)
    replies = []
    done = trio.Event()

    async def grade() -> None:
        replies.append(await judge.judge(request, request.problem))
        done.set()

    nursery.start_soon(grade)
    await behaviour.hung.wait()
    busy = next(c for c in pool.containers if c.current is not None)
    fake.container(busy.id).oom_killed = True
    await fake.exit_container(busy.id, exit_code=137)
    await done.wait()
    tests = replies[0].tests
    assert [t.status for t in tests] == [Status.ACCEPTED, Status.MEMORY_LIMIT, Status.ACCEPTED]
    assert tests[1].error == "memory limit exceeded (128 MB)"
    assert replies[0].status is Status.MEMORY_LIMIT


async def test_stop_on_first_failure_skips_the_rest(nursery, autojump_clock):
    agent, fake, pool, judge = await start(nursery, Scripted())
    request = problem_request(("1", "x"), ("2", "2"), stop_on_first_failure=True)
    reply = await judge.judge(request, request.problem)
    assert [t.status for t in reply.tests] == [Status.WRONG_ANSWER, Status.SKIPPED]


async def test_compile_error_runs_no_test(nursery, autojump_clock):
    behaviour = Scripted()
    behaviour.compile_fails = True
    agent, fake, pool, judge = await start(nursery, behaviour)
    request = problem_request(("1", "1"))
    reply = await judge.judge(request, request.problem)
    assert reply.status is Status.COMPILE_ERROR and reply.tests == []
    assert "bad" in reply.compile_output
    assert not any(isinstance(m, Run) for m in agent.received)


async def test_a_hung_compile_is_cut_at_the_compile_deadline(nursery, autojump_clock):
    async def hang(message: Job | Run) -> None:
        return None

    agent, fake, pool, judge = await start(nursery, hang)
    request = problem_request(("1", "1"))
    start_time = trio.current_time()
    reply = await judge.judge(request, request.problem)
    assert reply.status is Status.COMPILE_ERROR
    assert trio.current_time() - start_time == pytest.approx(compile_deadline_s(SETTINGS))
