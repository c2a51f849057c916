"""Host-side deadlines, container replacement and the busy path, on Trio's mock clock."""

from __future__ import annotations

import base64
import json

import pytest
import trio
import trio.testing

from agent import protocol
from docker_api.testing import FakeDockerEngine
from service.config import Settings
from service.engine import Engine
from service.intake.memory import MemoryIntake
from service.jobs import Executor
from service.requests import limits_for, parse_request
from service.sandbox import cgroups
from service.sandbox.lender import Lender
from service.sandbox.session import CLEANUP_TIMEOUT_S
from service.sandbox.session import job_deadline_s as deadline_s
from service.scheduling.dispatch import Dispatcher
from service.testing import FakeAgent, answer, never_answer, running, start_fake_pool
from wire import Kind, Status
from wire.replies import Reply

SETTINGS = Settings.from_env({}, instance_id="unit", workers=2, concurrency=3)


def make_request(language: str = "python", **fields):
    body = {"language": language, "code": base64.b64encode(b"print(1)").decode(), **fields}
    return parse_request(
        json.dumps(body).encode(), Kind.COMPILER, limits_for(Kind.COMPILER, SETTINGS)
    )


async def start_pool(nursery, agent: FakeAgent, settings: Settings = SETTINGS):
    return await start_fake_pool(nursery, agent, settings)


async def test_pool_fills_with_workers_containers(nursery, autojump_clock):
    fake, docker, pool = await start_pool(nursery, FakeAgent())
    assert len(running(fake)) == SETTINGS.workers
    config = next(iter(fake.containers.values())).config
    assert config["HostConfig"]["NetworkMode"] == "none"
    assert config["Labels"]["org.code-engine.instance"] == "unit"


async def test_ok_reply(nursery, autojump_clock):
    agent = FakeAgent(answer(stdout=b"1\n"))
    fake, docker, pool = await start_pool(nursery, agent)
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request())
    assert reply.status is Status.OK
    assert reply.output == "1\n"
    job = agent.received[-1]
    assert isinstance(job, protocol.Job)
    assert job.runs[0].argv == ["python3", "-E", "-s", "-B", "/work/build/main.py"]
    assert job.compile is None


async def test_agent_that_never_answers_times_out_at_limit_plus_grace(nursery, autojump_clock):
    fake, docker, pool = await start_pool(nursery, FakeAgent(never_answer))
    request = make_request(timeout_ms=3000)
    first = set(running(fake))
    start = trio.current_time()
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(request)
    assert reply.status is Status.TIMEOUT
    assert trio.current_time() - start == pytest.approx(deadline_s(request, SETTINGS))
    assert deadline_s(request, SETTINGS) == 3.0 + SETTINGS.grace_ms / 1000
    # The container that hung was killed and a fresh one took its place.
    await trio.testing.wait_all_tasks_blocked()
    now = set(running(fake))
    assert len(now) == SETTINGS.workers
    assert len(first - now) == 1
    assert pool.replaced == 1


async def test_answer_just_before_the_deadline_is_ok(nursery, autojump_clock):
    request = make_request(timeout_ms=3000)
    limit = deadline_s(request, SETTINGS)
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(after=limit - 0.001)))
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(request)
    assert reply.status is Status.OK
    assert pool.replaced == 0


async def test_compiled_language_deadline_includes_compile_limit(nursery, autojump_clock):
    settings = Settings.from_env({}, instance_id="unit", compile_cpus=SETTINGS.cpus)
    fake, docker, pool = await start_pool(nursery, FakeAgent(never_answer), settings)
    request = make_request("cpp", timeout_ms=1000)
    start = trio.current_time()
    reply = await Executor(Lender(docker, pool, settings)).execute(request)
    assert reply.status is Status.TIMEOUT
    expected = (settings.compile_timeout_ms + 1000 + settings.grace_ms) / 1000
    assert trio.current_time() - start == pytest.approx(expected)


async def test_a_hung_compile_step_is_cut_at_the_compile_limit(nursery, autojump_clock):
    fake, docker, pool = await start_pool(nursery, FakeAgent(never_answer))
    start = trio.current_time()
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(
        make_request("go", timeout_ms=1000)
    )
    assert reply.status is Status.TIMEOUT
    expected = (SETTINGS.compile_timeout_ms + SETTINGS.grace_ms) / 1000
    assert trio.current_time() - start == pytest.approx(expected)


async def test_compile_step_gets_compile_cpus_and_the_run_gets_cpus(nursery, autojump_clock):
    agent = FakeAgent(answer(stdout=b"42\n"))
    fake, docker, pool = await start_pool(nursery, agent)
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request("cpp"))
    assert reply.status is Status.OK
    assert reply.compile_time_ms is not None
    period = SETTINGS.cpu_period_ms * 1000
    busy = next(c for c in fake.containers.values() if c.updates)
    assert [u["CpuQuota"] for u in busy.updates] == [
        int(period * SETTINGS.compile_cpus),
        int(period * SETTINGS.cpus),
    ]
    job, run = agent.received[-2:]
    assert isinstance(job, protocol.Job) and (job.runs, job.finish) == ([], False)
    assert isinstance(run, protocol.Run) and (run.finish, run.early_result) == (True, True)


def cgroup_in(directory, writes: list[tuple[str, str]], monkeypatch) -> cgroups.CgroupFiles:
    """A unified cgroup in ``directory``; every write recorded as (file, value)."""
    for name in ("cpu.max", "memory.max"):
        (directory / name).write_text("")
    real = cgroups._write
    monkeypatch.setattr(
        cgroups,
        "_write",
        lambda path, value: (writes.append((path.name, value)), real(path, value)),
    )
    return cgroups.CgroupFiles(directory, directory, unified=True)


async def test_where_the_daemon_sees_the_cgroup_a_compile_makes_no_docker_call(
    nursery, autojump_clock, tmp_path, monkeypatch
):
    agent = FakeAgent(answer(stdout=b"42\n"))
    fake, docker, pool = await start_pool(nursery, agent)
    writes: list[tuple[str, str]] = []
    cgroup = cgroup_in(tmp_path, writes, monkeypatch)
    for container in pool.containers:
        container.cgroup = cgroup
    executor = Executor(Lender(docker, pool, SETTINGS))
    reply = await executor.execute(make_request("go"))
    assert reply.status is Status.OK
    assert all(c.updates == [] for c in fake.containers.values())
    period = SETTINGS.cpu_period_ms * 1000
    compile_share = ("cpu.max", f"{int(period * SETTINGS.compile_cpus)} {period}")
    run_share = ("cpu.max", f"{int(period * SETTINGS.cpus)} {period}")
    # Compiled at the compile share, run at the run's; cleaned up at the compile
    # share again (the agent's own work, the next warm starts among it).
    assert writes == [compile_share, run_share, compile_share]


async def test_a_container_cleans_up_at_the_compile_share_and_runs_at_the_runs(
    nursery, autojump_clock, tmp_path, monkeypatch
):
    writes: list[tuple[str, str]] = []
    files = cgroup_in(tmp_path, writes, monkeypatch)
    monkeypatch.setattr(cgroups, "find", lambda *_args, **_kwargs: files)  # every container's
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(stdout=b"1\n")))
    executor = Executor(Lender(docker, pool, SETTINGS))
    period = SETTINGS.cpu_period_ms * 1000
    compile_share = ("cpu.max", f"{int(period * SETTINGS.compile_cpus)} {period}")
    run_share = ("cpu.max", f"{int(period * SETTINGS.cpus)} {period}")
    seen = []
    for _ in range(4):  # the pool's containers in turn, each cleaned up before
        writes.clear()
        assert (await executor.execute(make_request("python"))).status is Status.OK
        await trio.testing.wait_all_tasks_blocked()  # the reply goes out before the cleanup
        seen.append(list(writes))
    # A container the last cleanup left at the compile share runs at the run's
    # again before the job's code does; every cleanup is at the compile share.
    assert all(w in ([compile_share], [run_share, compile_share]) for w in seen), seen
    assert [run_share, compile_share] in seen, seen
    assert all(c.updates == [] for c in fake.containers.values())


async def test_a_lower_memory_limit_is_written_to_the_cgroup_too(
    nursery, autojump_clock, tmp_path, monkeypatch
):
    settings = Settings.from_env({}, instance_id="unit", compile_cpus=SETTINGS.cpus)
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(stdout=b"1\n")), settings)
    writes: list[tuple[str, str]] = []
    cgroup = cgroup_in(tmp_path, writes, monkeypatch)
    for container in pool.containers:
        container.cgroup = cgroup
    sandbox = Lender(docker, pool, settings)
    reply = await Executor(sandbox).execute(make_request("go", memory_mb=64))
    assert reply.status is Status.OK
    # Built at Go's compile floor, run at the request's.
    assert writes == [("memory.max", str(128 << 20)), ("memory.max", str(64 << 20))]
    assert all(c.updates == [] for c in fake.containers.values())


async def test_a_cgroup_that_cannot_be_written_leaves_the_container_to_docker(
    nursery, autojump_clock, tmp_path
):
    agent = FakeAgent(answer(stdout=b"42\n"))
    fake, docker, pool = await start_pool(nursery, agent)
    for container in pool.containers:
        container.cgroup = cgroups.CgroupFiles(tmp_path / "gone", tmp_path / "gone", unified=True)
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request("cpp"))
    assert reply.status is Status.OK
    busy = next(c for c in fake.containers.values() if c.updates)
    period = SETTINGS.cpu_period_ms * 1000
    assert [u["CpuQuota"] for u in busy.updates] == [
        int(period * SETTINGS.compile_cpus),
        int(period * SETTINGS.cpus),
    ]
    # From then on Docker sets that container's limits.
    assert next(c for c in pool.containers if c.id == busy.id).cgroup is None


async def test_the_compile_step_gets_its_own_memory_and_the_run_the_jobs(nursery, autojump_clock):
    # A job that may use 64 MB still gets built, at Go's compile floor.
    settings = Settings.from_env({}, instance_id="unit", compile_cpus=SETTINGS.cpus)
    agent = FakeAgent(answer(stdout=b"42\n"))
    fake, docker, pool = await start_pool(nursery, agent, settings)
    reply = await Executor(Lender(docker, pool, settings)).execute(make_request("go", memory_mb=64))
    assert reply.status is Status.OK
    busy = next(c for c in fake.containers.values() if c.updates)
    # Created at the default memory, lowered to the floor for the compile, then
    # to the job's own limit for the run.
    assert busy.updates == [
        {"Memory": 128 << 20, "MemorySwap": 128 << 20},
        {"Memory": 64 << 20, "MemorySwap": 64 << 20},
    ]
    job, run = agent.received[-2:]
    assert isinstance(job, protocol.Job) and job.runs == []
    assert isinstance(run, protocol.Run)
    # An interpreted job is one exchange, at its own limit from the start.
    await Executor(Lender(docker, pool, settings)).execute(make_request("python", memory_mb=64))
    assert isinstance(agent.received[-1], protocol.Job) and agent.received[-1].runs


async def test_without_live_updates_a_lower_limit_gets_a_container_of_its_own(
    nursery, autojump_clock
):
    # gVisor's runsc cannot change a running container's limits.
    settings = Settings.from_env({}, instance_id="unit", runtime="runsc")
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(stdout=b"1\n")), settings)
    sandbox = Lender(docker, pool, settings)
    warm = {c.id for c in pool.containers}
    reply = await Executor(sandbox).execute(make_request("cpp", memory_mb=64))
    assert reply.status is Status.OK
    assert not any(c.updates for c in fake.containers.values())
    sized = [c for cid, c in fake.containers.items() if cid not in warm]
    assert len(sized) == 1
    assert sized[0].host_config["Memory"] == 64 << 20
    await trio.testing.wait_all_tasks_blocked()
    assert not sized[0].running  # retired after its one job
    assert {c.id for c in pool.containers} >= warm  # the warm ones untouched


async def test_dirty_container_is_replaced_clean_one_reused(nursery, autojump_clock):
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(clean=False)))
    executor = Executor(Lender(docker, pool, SETTINGS))
    await executor.execute(make_request())
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 1
    fake2, docker2, pool2 = await start_pool(nursery, FakeAgent(answer()))
    await Executor(Lender(docker2, pool2, SETTINGS)).execute(make_request())
    assert pool2.replaced == 0


@pytest.mark.parametrize(
    ("step", "status"),
    [
        ({"timed_out": True, "exit_code": None, "signal": 9}, Status.TIMEOUT),
        ({"oom_killed": True, "exit_code": None, "signal": 9}, Status.MEMORY_LIMIT),
        ({"output_exceeded": True, "exit_code": None, "signal": 9}, Status.OUTPUT_LIMIT),
        ({"exit_code": 3}, Status.RUNTIME_ERROR),
    ],
)
async def test_limits_map_to_statuses_and_clean_containers_are_reused(
    nursery, autojump_clock, step, status
):
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(**step)))
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request())
    assert reply.status is status
    assert reply.success is False
    await trio.testing.wait_all_tasks_blocked()
    # The agent verified its cleanup; only a container the OOM killer struck in
    # is retired (Docker's OOMKilled flag would speak for it ever after).
    assert pool.replaced == (1 if step.get("oom_killed") else 0)


async def test_full_queue_answers_busy_at_once(autojump_clock, nursery):
    release = trio.Event()

    async def slow(request, respond):
        await release.wait()
        respond(Reply(id=request.id, language="python", success=True, status=Status.OK))

    replies: list[Reply] = []
    dispatcher = Dispatcher(slow, concurrency=1, capacity=1)
    await nursery.start(dispatcher.run)
    assert dispatcher.submit(make_request(id="running"), replies.append)
    await trio.testing.wait_all_tasks_blocked()  # the worker takes it
    assert dispatcher.submit(make_request(id="queued"), replies.append)
    assert not dispatcher.submit(make_request(id="refused"), replies.append)
    assert dispatcher.metrics.rejected == 1
    release.set()
    await dispatcher.drain()
    assert [r.id for r in replies] == ["running", "queued"]


async def test_engine_handle_answers_invalid_and_busy(nursery, autojump_clock):
    fake = FakeDockerEngine(images=[SETTINGS.image])
    async with fake.client() as docker:
        settings = Settings.from_env({}, instance_id="unit", queue_capacity=1)
        intake = MemoryIntake()
        engine = Engine(settings, docker, intake=intake)
        await nursery.start(intake.run, engine.admission.handle, engine.control.has_room)

        def sent() -> list[tuple[str, dict]]:
            return [(item.subject, json.loads(item.payload)) for item in intake.sent]

        intake.submit(b"{bad", reply="inbox.1")
        assert sent()[-1][0] == "inbox.1"
        assert sent()[-1][1]["status"] == "invalid_request"
        intake.submit(b"{}", reply="")
        assert len(sent()) == 1  # no reply subject: dropped
        good = json.dumps({"language": "py", "code": "eA==", "id": "a"}).encode()
        intake.submit(good, reply="inbox.2")
        intake.submit(good, reply="inbox.3")
        assert sent()[-1] == ("inbox.3", sent()[-1][1])
        assert sent()[-1][1]["status"] == "busy"


async def test_docker_outage_answers_busy_and_the_pool_is_rebuilt(nursery, autojump_clock):
    fake = FakeDockerEngine(images=[SETTINGS.image])
    agent = FakeAgent()
    fake.on_attach = lambda peer: nursery.start_soon(agent.serve, peer)
    docker = fake.client()
    await docker.__aenter__()
    intake = MemoryIntake()
    engine = Engine(SETTINGS, docker, intake=intake)
    await nursery.start(engine.run)
    pool = engine.pool

    def sent() -> list[dict]:
        return [json.loads(item.payload) for item in intake.sent if item.subject == "inbox.1"]

    before = set(running(fake))

    fake.down = True
    await pool.check_health()
    assert pool.docker_ok is False
    good = json.dumps({"language": "py", "code": "eA==", "id": "a"}).encode()
    intake.submit(good, reply="inbox.1")
    assert sent()[-1]["status"] == "busy"
    assert "Docker" in sent()[-1]["error"]

    fake.down = False
    await pool.check_health()
    await trio.testing.wait_all_tasks_blocked()
    assert pool.docker_ok is True
    now = set(running(fake))
    assert len(now) == SETTINGS.workers
    assert not now & before  # every container was replaced


async def test_container_killed_from_outside_is_replaced_and_its_job_answered(
    nursery, autojump_clock
):
    agent = FakeAgent(answer(after=5, stdout=b"late\n"))
    fake, docker, pool = await start_pool(nursery, agent)
    executor = Executor(Lender(docker, pool, SETTINGS))
    replies: list[Reply] = []

    async def run_one() -> None:
        replies.append(await executor.execute(make_request()))

    nursery.start_soon(run_one)
    await trio.testing.wait_all_tasks_blocked()
    busy = next(c for c in pool.containers if c.current is not None)
    await fake.exit_container(busy.id, exit_code=137)
    await trio.testing.wait_all_tasks_blocked()
    assert replies[0].status is Status.INTERNAL_ERROR
    await pool.check_health()
    await trio.testing.wait_all_tasks_blocked()
    assert busy.id not in {c.id for c in pool.containers}
    assert len(running(fake)) >= SETTINGS.workers


async def test_reply_goes_out_before_the_cleanup(nursery, autojump_clock):
    agent = FakeAgent(answer(after=0.5, stdout=b"early\n"), cleanup_s=3)
    fake, docker, pool = await start_pool(nursery, agent)
    answered_at: list[float] = []
    start = trio.current_time()
    await Executor(Lender(docker, pool, SETTINGS)).run(
        make_request(), lambda reply: answered_at.append(trio.current_time() - start)
    )
    assert answered_at == [pytest.approx(0.5)]
    assert trio.current_time() - start == pytest.approx(3.5)  # returned after the cleanup
    assert pool.replaced == 0


async def test_unverified_cleanup_replaces_the_container(nursery, autojump_clock):
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(clean=False), cleanup_s=1))
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(make_request())
    assert reply.status is Status.OK
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 1


async def test_cleanup_that_never_ends_kills_the_container(nursery, autojump_clock):
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(), cleanup_s=None))
    replies: list[Reply] = []
    start = trio.current_time()
    await Executor(Lender(docker, pool, SETTINGS)).run(make_request(), replies.append)
    assert replies[0].status is Status.OK
    assert trio.current_time() - start == pytest.approx(CLEANUP_TIMEOUT_S)
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 1


async def oom_kill_mid_job(
    nursery, settings: Settings, request, *, flagged: bool = True, logged: bool = False
) -> tuple[Reply, bool]:
    """The reply to ``request`` whose container the OOM killer takes, agent and all,
    a second in; and whether that container left the pool. ``flagged``: Docker's
    ``State.OOMKilled`` says so; ``logged``: its event log has the OOM event."""
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer(after=5)), settings)
    executor = Executor(Lender(docker, pool, settings))
    replies: list[Reply] = []

    async def run_one() -> None:
        replies.append(await executor.execute(request))

    nursery.start_soon(run_one)
    await trio.testing.wait_all_tasks_blocked()
    busy = next(c for c in pool.containers if c.current is not None)
    fake.container(busy.id).oom_killed = flagged
    if logged:
        fake.log_event(busy.id, "oom")
    await fake.exit_container(busy.id, exit_code=137)
    await trio.testing.wait_all_tasks_blocked()
    return replies[0], busy.id not in {c.id for c in pool.containers}


async def test_container_oom_killed_with_its_agent_is_memory_limit(nursery, autojump_clock):
    reply, gone = await oom_kill_mid_job(nursery, SETTINGS, make_request(memory_mb=128))
    assert reply.status is Status.MEMORY_LIMIT
    assert "128 MB" in reply.error
    assert gone


async def test_an_oom_kill_docker_logged_after_the_exit_is_memory_limit(nursery, autojump_clock):
    # Docker sets State.OOMKilled when it handles the exit, and the OOM event
    # can come after it: its event log still has it.
    reply, gone = await oom_kill_mid_job(
        nursery, SETTINGS, make_request(memory_mb=128), flagged=False, logged=True
    )
    assert reply.status is Status.MEMORY_LIMIT
    assert gone


async def test_a_sigkill_with_no_oom_anywhere_is_the_engines_failure(nursery, autojump_clock):
    reply, gone = await oom_kill_mid_job(
        nursery, SETTINGS, make_request(memory_mb=128), flagged=False, logged=False
    )
    assert reply.status is Status.INTERNAL_ERROR
    assert gone


async def test_every_container_of_the_pool_runs_its_jobs_as_a_uid_of_its_own(
    nursery, autojump_clock
):
    settings = Settings.from_env({}, instance_id="unit", workers=4, concurrency=4)
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer()), settings)
    uids = []
    for container in fake.containers.values():
        env = dict(e.split("=", 1) for e in container.config["Env"])
        uids.append(int(env["CODE_ENGINE_JOB_UID"]))
    assert len(uids) == 4
    assert len(set(uids)) == 4
    assert all(10001 <= uid <= 11024 for uid in uids)
    assert sorted(uids) == sorted(c.job_uid for c in pool.containers)


async def test_a_container_warmed_during_a_health_pass_is_not_gone(nursery, autojump_clock):
    settings = Settings.from_env({}, instance_id="unit", workers=1, concurrency=3)
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer()), settings)
    listed = docker.containers.list

    async def list_then_warm_one(*args, **kwargs):
        found = await listed(*args, **kwargs)
        # After Docker answered, before the pass compares: a new container arrives.
        pool.resize(2)
        await trio.testing.wait_all_tasks_blocked()
        assert len(pool.containers) == 2
        return found

    docker.containers.list = list_then_warm_one
    await pool.check_health()
    docker.containers.list = listed
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == 0
    assert len(pool.containers) == 2


def test_fork_bombs_stop_in_the_guest_under_gvisor_and_at_the_pids_cgroup_under_runc():
    from service.sandbox.spec import container_config

    def limits(settings: Settings) -> tuple[int, list[dict]]:
        host = container_config(settings)["HostConfig"]
        return host["PidsLimit"], [u for u in host["Ulimits"] if u["Name"] == "nproc"]

    assert limits(SETTINGS) == (128, [])
    gvisor = Settings.from_env({}, instance_id="unit", runtime="runsc")
    pids, nproc = limits(gvisor)
    # The Sentry's own host tasks must never reach the cgroup: the guest's
    # nproc is what a job meets.
    assert nproc == [{"Name": "nproc", "Soft": 64, "Hard": 64}]
    assert pids >= 8 * 128
    # gVisor grants any mapping: the agent gets the host's RAM as the job's RLIMIT_AS.
    env = container_config(gvisor)["Env"]
    assert [e for e in env if e.startswith("CODE_ENGINE_JOB_ADDRESS_SPACE_MB=")]
    assert not [e for e in container_config(SETTINGS)["Env"] if "ADDRESS_SPACE" in e]
    # The agent ends a step whose guest fills the container's limit.
    assert "CODE_ENGINE_JOB_MEMORY_WATCH_MB=400" in env
    # Its CPU time from the process table is held to the container's largest share.
    assert "CODE_ENGINE_JOB_CPUS=1" in env
    assert "CODE_ENGINE_JOB_MEMORY_WATCH_MB=48" in container_config(gvisor, memory_mb=48)["Env"]
    assert not [e for e in container_config(SETTINGS)["Env"] if "MEMORY_WATCH" in e]


async def test_a_compiler_that_takes_the_sandbox_over_its_memory_is_a_compile_error(
    nursery, autojump_clock
):
    # Under gVisor any out-of-memory takes the whole sandbox, the agent with it;
    # the compile is an exchange of its own there, so the host knows whose it was.
    settings = Settings.from_env({}, instance_id="unit", runtime="runsc")
    reply, gone = await oom_kill_mid_job(nursery, settings, make_request("cpp"))
    assert reply.status is Status.COMPILE_ERROR
    assert reply.error.endswith("compilation exceeded the memory limit")
    assert gone


@pytest.mark.parametrize(("host_tasks", "replaced"), [(100, 0), (5000, 1)])
async def test_a_gvisor_sandbox_full_of_leftover_host_tasks_is_replaced(
    nursery, autojump_clock, host_tasks, replaced
):
    settings = Settings.from_env({}, instance_id="unit", workers=1, concurrency=1, runtime="runsc")
    fake, docker, pool = await start_pool(nursery, FakeAgent(answer()), settings)
    for container in fake.containers.values():
        container.stats = {"pids_stats": {"current": host_tasks}}
    reply = await Executor(Lender(docker, pool, settings)).execute(make_request())
    assert reply.status is Status.OK
    await trio.testing.wait_all_tasks_blocked()
    assert pool.replaced == replaced
    assert pool.replaced_by["sentry_tasks"] == replaced


def test_host_tasks_come_from_the_hosts_cgroup_when_the_daemon_shares_it(tmp_path, monkeypatch):
    from service.sandbox import sentry

    monkeypatch.setattr(sentry, "CGROUP_ROOT", tmp_path)
    assert sentry.read_cgroup("abc") is None
    path = tmp_path / "pids" / "docker" / "abc" / "pids.current"
    path.parent.mkdir(parents=True)
    path.write_text("42\n")
    assert sentry.read_cgroup("abc") == 42
