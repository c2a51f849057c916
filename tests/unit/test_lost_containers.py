"""Containers that die before their job: noticed at once while idle, the job run again elsewhere."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import trio
import trio.testing

from agent import protocol
from docker_api.testing import FakeAttachPeer, FakeDockerEngine
from service.config import Settings
from service.jobs import Executor
from service.jobs.compiler import MAX_ATTEMPTS
from service.requests import limits_for, parse_request
from service.sandbox.lender import Lender
from service.sandbox.session import docker_time
from service.testing import FakeAgent, answer, running, start_fake_pool
from wire import Kind, Status

SETTINGS = Settings.from_env({}, instance_id="unit", workers=2, concurrency=3)


def make_request(language: str = "python", **fields):
    body = {"language": language, "code": base64.b64encode(b"print(1)").decode(), **fields}
    return parse_request(
        json.dumps(body).encode(), Kind.COMPILER, limits_for(Kind.COMPILER, SETTINGS)
    )


async def start_pool(nursery, agent: FakeAgent):
    return await start_fake_pool(nursery, agent, SETTINGS)


class DeadBeforeTheJob(FakeAgent):
    """The first ``deaths`` containers given a job turn out to have exited before it was sent.

    Docker recorded the exit a second before the job arrived; the stream ends
    only now (the moment between a container's death and its stream's end).
    """

    def __init__(self, fake: FakeDockerEngine | None = None, deaths: int = 1) -> None:
        super().__init__(answer(stdout=b"ok\n"))
        self.fake = fake
        self.deaths = deaths

    async def _answer(self, peer: FakeAttachPeer, message: protocol.HostMessage) -> None:
        if isinstance(message, protocol.Job | protocol.Run) and self.deaths > 0:
            assert self.fake is not None
            self.deaths -= 1
            container = self.fake.container(peer.container_id)
            container.status = "exited"
            container.exit_code = 137
            container.finished_at = (
                datetime.fromtimestamp(time.time() - 1, UTC).isoformat().replace("+00:00", "Z")
            )
            await peer.close()
            return
        await super()._answer(peer, message)


async def test_an_idle_container_that_dies_is_replaced_at_once(nursery, autojump_clock):
    fake, docker, pool = await start_pool(nursery, FakeAgent())
    victim = pool.containers[0]
    start = trio.current_time()
    await fake.exit_container(victim.id, exit_code=137)
    await trio.testing.wait_all_tasks_blocked()  # no time passes: no health pass ran
    assert victim.id not in {c.id for c in pool.containers}
    assert pool.lost_idle == 1
    await trio.testing.wait_all_tasks_blocked()
    assert len(running(fake)) == SETTINGS.workers
    assert trio.current_time() - start < SETTINGS.health_interval_ms / 1000
    # A request at once goes to a live container.
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request())
    assert reply.status is Status.OK
    assert pool.lost_before_job == 0


async def test_a_job_whose_container_was_already_dead_runs_on_a_fresh_one(nursery, autojump_clock):
    agent = DeadBeforeTheJob()
    fake, docker, pool = await start_pool(nursery, agent)
    agent.fake = fake
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request())
    assert reply.status is Status.OK
    assert reply.output == "ok\n"
    assert pool.lost_before_job == 1
    jobs = [m for m in agent.received if isinstance(m, protocol.Job)]
    assert len(jobs) == 2  # the lost one and the one that ran


async def test_retries_are_bounded(nursery, autojump_clock):
    agent = DeadBeforeTheJob(deaths=MAX_ATTEMPTS + 2)
    fake, docker, pool = await start_pool(nursery, agent)
    agent.fake = fake
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request())
    assert reply.status is Status.INTERNAL_ERROR
    assert f"{MAX_ATTEMPTS} times" in reply.error
    assert pool.lost_before_job == MAX_ATTEMPTS


async def test_a_compiled_job_whose_container_was_dead_runs_again(nursery, autojump_clock):
    agent = DeadBeforeTheJob()
    fake, docker, pool = await start_pool(nursery, agent)
    agent.fake = fake
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request("go"))
    assert reply.status is Status.OK
    assert pool.lost_before_job == 1


async def test_a_container_gone_from_docker_before_its_job_is_not_the_jobs_loss(
    nursery, autojump_clock
):
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(stdout=b"ok\n")))
    for container in pool.containers:
        # Removed behind the pool's back without its stream ending (yet).
        fake.containers.pop(container.id)
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request(memory_mb=100))
    assert reply.status is Status.OK
    assert pool.lost_before_job >= 1


def test_docker_time_reads_nanoseconds_and_never():
    assert (
        docker_time("2026-12-02T00:43:27.123456789Z")
        == datetime(2026, 12, 2, 0, 43, 27, 123456, tzinfo=UTC).timestamp()
    )
    assert (
        docker_time("2026-12-02T00:43:27Z")
        == datetime(2026, 12, 2, 0, 43, 27, tzinfo=UTC).timestamp()
    )
    assert docker_time("0001-01-01T00:00:00Z") is None
    assert docker_time("garbage") is None
