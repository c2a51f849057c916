"""A compile step's memory: the request's, raised to its language's floor (or the operator's)."""

from __future__ import annotations

import base64
import json

import pytest

from agent import protocol
from service.config import ConfigError, Settings
from service.jobs import Executor
from service.languages import all_languages, lookup
from service.requests import limits_for, parse_request
from service.sandbox.lender import Lender
from service.testing import FakeAgent, answer, start_fake_pool
from wire import Kind, Status

# The compile at the run's CPU share: only memory can set a compile apart.
SETTINGS = Settings.from_env({}, instance_id="unit", compile_cpus=0.5, cpus=0.5)


def language(name: str):
    found = lookup(name)
    assert found is not None
    return found


def make_request(language: str, memory_mb: int):
    body = {"language": language, "code": base64.b64encode(b"x").decode(), "memory_mb": memory_mb}
    return parse_request(
        json.dumps(body).encode(), Kind.COMPILER, limits_for(Kind.COMPILER, SETTINGS)
    )


def test_the_compile_gets_the_requests_memory_raised_to_the_floor():
    go = language("go")
    assert go.compile_memory_floor_mb == 128
    assert go.compile_memory_mb(32) == 128
    assert go.compile_memory_mb(128) == 128
    assert go.compile_memory_mb(300) == 300  # never more than the request's own
    assert language("cpp").compile_memory_mb(64) == 192


def test_the_operators_floor_replaces_the_languages_either_way():
    go, cpp = language("go"), language("cpp")
    assert go.compile_memory_mb(32, floor_override_mb=64) == 64
    assert cpp.compile_memory_mb(32, floor_override_mb=512) == 512
    assert cpp.compile_memory_mb(600, floor_override_mb=512) == 600


def test_compiled_languages_have_a_floor_and_interpreted_ones_none():
    for lang in all_languages():
        assert (lang.compile_memory_floor_mb >= 32) is lang.compiled, lang.name


def test_the_operators_floor_is_at_least_32_mb():
    assert Settings.from_env({"CODE_ENGINE_COMPILE_MEMORY_MB": "256"}).compile_memory == 256
    with pytest.raises(ConfigError):
        Settings.from_env({"CODE_ENGINE_COMPILE_MEMORY_MB": "16"})


@pytest.mark.parametrize(
    ("env", "memory_mb", "compile_mb"),
    [
        ({}, 64, 128),  # Go's floor
        ({}, 200, None),  # above it: compiled and run at the request's own, one exchange
        ({"CODE_ENGINE_COMPILE_MEMORY_MB": "300"}, 64, 300),
        ({"CODE_ENGINE_COMPILE_MEMORY_MB": "300"}, 350, None),
    ],
)
async def test_a_go_compile_runs_at_its_memory_and_the_run_at_the_requests(
    nursery, autojump_clock, env, memory_mb, compile_mb
):
    settings = Settings.from_env(
        env, instance_id="unit", compile_cpus=SETTINGS.compile_cpus, cpus=SETTINGS.cpus
    )
    agent = FakeAgent(answer(stdout=b"42\n"))
    fake, docker, pool = await start_fake_pool(nursery, agent, settings)
    reply = await Executor(Lender(docker, pool, settings)).execute(make_request("go", memory_mb))
    assert reply.status is Status.OK
    busy = next(c for c in fake.containers.values() if c.updates)
    memories = [update["Memory"] >> 20 for update in busy.updates]
    jobs = [m for m in agent.received if isinstance(m, (protocol.Job, protocol.Run))]
    if compile_mb is None:
        assert memories == [memory_mb]
        assert len(jobs) == 1 and jobs[0].runs  # compiled and run in one exchange
    else:
        assert memories == [compile_mb, memory_mb]
        assert len(jobs) == 2 and isinstance(jobs[1], protocol.Run)
