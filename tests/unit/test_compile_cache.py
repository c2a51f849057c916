"""The compile cache: its key, its bounds, and the flows on a hit (FakeAgent, mock clock)."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from agent import protocol
from agent.protocol import Step, StepResult
from service.config import Settings
from service.jobs import Executor
from service.jobs.judge import Judge
from service.languages import all_languages
from service.requests import limits_for, parse_request
from service.sandbox.compile_cache import CompileCache, cache_key, keeps
from service.sandbox.lender import Lender
from service.testing import FakeAgent, answer, start_fake_pool
from service.testing.fake_agent import fake_program
from wire import Kind, Status

SETTINGS = Settings.from_env({}, instance_id="unit", workers=2, concurrency=3)
CPP = b'#include <cstdio>\nint main() { std::puts("hi"); }\n'
STEP = Step(["g++", "-O2", "-o", "/work/build/main", "/work/build/main.cpp"], {"PATH": "/usr/bin"})
OK = StepResult(exit_code=0, signal=None, stderr=b"warning: unused", wall_ms=312.0, cpu_ms=290.0)


def request(code: bytes = CPP, kind: Kind = Kind.COMPILER, **fields: object):
    body = {"language": "cpp", "code": base64.b64encode(code).decode(), **fields}
    return parse_request(json.dumps(body).encode(), kind, limits_for(kind, SETTINGS))


def test_the_key_covers_image_language_step_and_every_file():
    files = {"main.cpp": CPP, "util.h": b"int f();"}
    key = cache_key("sha256:a", "cpp", STEP, files)
    assert key == cache_key("sha256:a", "cpp", STEP, dict(reversed(files.items())))
    others = [
        cache_key("sha256:b", "cpp", STEP, files),  # another image: another compiler
        cache_key("sha256:a", "go", STEP, files),
        cache_key("sha256:a", "cpp", Step([*STEP.argv, "-g"], STEP.env), files),
        cache_key("sha256:a", "cpp", Step(STEP.argv, {"PATH": "/bin"}), files),
        cache_key("sha256:a", "cpp", STEP, {**files, "util.h": b"int g();"}),
        cache_key("sha256:a", "cpp", STEP, {"main.cpp": CPP, "util.hpp": b"int f();"}),
        # Parts are length-prefixed: moving bytes from a name to a content changes the key.
        cache_key("sha256:a", "cpp", STEP, {"main.cpp": CPP, "util.": b"hint f();"}),
    ]
    assert len({key, *others}) == len(others) + 1


def test_least_recently_used_programs_go_first_and_hits_are_counted():
    cache = CompileCache(400)
    assert cache.put("a", b"a" * 100, OK) and cache.put("b", b"b" * 100, OK)
    assert cache.get("a") is not None  # a is now the most recent
    assert cache.put("c", b"c" * 100, OK) and cache.put("d", b"d" * 100, OK)
    assert cache.put("e", b"e" * 100, OK)  # 500 bytes: b goes
    assert cache.get("b") is None
    assert [k for k in "acde" if cache.get(k) is not None] == list("acde")
    figures = cache.figures()
    assert (figures.hits, figures.misses, figures.entries, figures.bytes) == (5, 1, 4, 400)
    # The kept compile: diagnostics as they were, no time (nothing is compiled on a hit).
    kept = cache.get("a")
    assert kept is not None and kept.compile.stderr == b"warning: unused"
    assert kept.compile.wall_ms == 0.0 and kept.compile.cpu_ms == 0.0


def test_a_program_too_large_or_a_cache_turned_off_keeps_nothing():
    cache = CompileCache(400)
    assert not cache.put("big", b"x" * 101, OK)  # over a quarter of the cache
    assert not cache.put("empty", b"", OK)
    off = CompileCache(0)
    assert not off.enabled and not off.put("a", b"a", OK)
    assert cache.figures().entries == off.figures().entries == 0


async def test_an_identical_request_runs_the_kept_program_with_no_compile(nursery, autojump_clock):
    agent = FakeAgent(answer(stdout=b"hi\n"))
    fake, docker, pool = await start_fake_pool(nursery, agent, SETTINGS)
    sandbox = Lender(docker, pool, SETTINGS)
    first = await Executor(sandbox).execute(request())
    assert first.status is Status.OK and first.compile_time_ms == 5.0
    compiled = [m for m in agent.received if isinstance(m, protocol.Job)][-1]
    assert compiled.compile is not None and compiled.collect == "main"
    updates = sum(len(c.updates) for c in fake.containers.values())

    second = await Executor(sandbox).execute(request())
    assert second.status is Status.OK and second.output == "hi\n"
    assert second.compile_time_ms == 0.0
    job = [m for m in agent.received if isinstance(m, protocol.Job)][-1]
    assert job.compile is None
    assert job.program == fake_program({"main.cpp": CPP})
    assert job.runs and job.runs[0].argv[-1] == "/work/build/main"
    # Nothing but the run: no Docker call to give a compile its CPU share and back.
    assert sum(len(c.updates) for c in fake.containers.values()) == updates
    figures = sandbox.compile_cache.figures()
    assert (figures.hits, figures.misses, figures.entries) == (1, 1, 1)

    other = await Executor(sandbox).execute(request(CPP + b"// another\n"))
    assert other.compile_time_ms == 5.0
    assert sandbox.compile_cache.figures().misses == 2


async def test_a_failed_compile_is_not_kept(nursery, autojump_clock):
    async def fails(message):
        failed = StepResult(exit_code=1, signal=None, stderr=b"error: nope", wall_ms=9.0)
        return protocol.Result(message.id, compile=failed if message.compile else None)

    agent = FakeAgent(fails)
    fake, docker, pool = await start_fake_pool(nursery, agent, SETTINGS)
    sandbox = Lender(docker, pool, SETTINGS)
    for _ in range(2):
        reply = await Executor(sandbox).execute(request())
        assert reply.status is Status.COMPILE_ERROR and "nope" in reply.error
    assert sandbox.compile_cache.figures().entries == 0
    assert all(m.compile is not None for m in agent.received if isinstance(m, protocol.Job))


def test_only_compiles_that_run_nothing_of_the_jobs_are_kept():
    kept = {language.name for language in all_languages() if keeps(language)}
    compiled = {language.name for language in all_languages() if language.compiled}
    # Compiled, and no compile runs the job's code but GHC's (Template Haskell);
    # TypeScript's leaves a .js per source, more than the one file kept.
    assert kept == compiled - {"haskell", "typescript"} and "cpp" in kept
    cpp = request().language
    assert not keeps(dataclasses.replace(cpp, compile_runs_job_code=True))


async def test_a_compile_that_may_run_the_jobs_code_is_never_kept(nursery, autojump_clock):
    # A build its own code could have written is not the compiler's output alone.
    agent = FakeAgent(answer(stdout=b"hi\n"))
    fake, docker, pool = await start_fake_pool(nursery, agent, SETTINGS)
    sandbox = Lender(docker, pool, SETTINGS)
    cpp = request()
    runs_code = dataclasses.replace(
        cpp, language=dataclasses.replace(cpp.language, compile_runs_job_code=True)
    )
    for _ in range(2):
        assert (await Executor(sandbox).execute(runs_code)).compile_time_ms == 5.0
    jobs = [m for m in agent.received if isinstance(m, protocol.Job)]
    assert len(jobs) == 2 and all(j.collect is None and j.program is None for j in jobs)
    figures = sandbox.compile_cache.figures()
    assert (figures.hits, figures.misses, figures.entries) == (0, 0, 0)


async def test_the_cache_turned_off_asks_for_no_program(nursery, autojump_clock):
    settings = Settings.from_env(
        {}, instance_id="unit", workers=2, concurrency=3, compile_cache_mb=0
    )
    agent = FakeAgent(answer(stdout=b"hi\n"))
    fake, docker, pool = await start_fake_pool(nursery, agent, settings)
    sandbox = Lender(docker, pool, settings)
    for _ in range(2):
        assert (await Executor(sandbox).execute(request())).compile_time_ms == 5.0
    jobs = [m for m in agent.received if isinstance(m, protocol.Job)]
    assert all(j.collect is None and j.program is None for j in jobs)


@pytest.mark.parametrize("tests", [1, 3])
async def test_a_rejudge_of_the_same_submission_compiles_nothing(nursery, autojump_clock, tests):
    agent = FakeAgent(answer(stdout=b"hi\n"))
    fake, docker, pool = await start_fake_pool(nursery, agent, SETTINGS)
    sandbox = Lender(docker, pool, SETTINGS)
    hi = base64.b64encode(b"hi\n").decode()
    cases = [{"stdin": "", "expected_output": hi} for _ in range(tests)]
    problem = request(kind=Kind.PROBLEMS, tests=cases)
    assert problem.problem is not None
    first = await Judge(sandbox).judge(problem, problem.problem)
    second = await Judge(sandbox).judge(problem, problem.problem)
    assert first.status is second.status is Status.ACCEPTED
    assert second.compile_time_ms == 0.0
    jobs = [m for m in agent.received if isinstance(m, protocol.Job)]
    assert [j.compile is not None for j in jobs] == [True, False]
