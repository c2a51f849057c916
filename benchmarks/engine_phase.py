"""The engine's phases: end to end over NATS, its resources, the CPU cap lifted, the agent alone.

Each phase starts what it needs (:func:`benchmarks.services.engine`) and stops it
on the way out, whatever happens. The numbers come back as plain dicts of summaries,
ready for :mod:`benchmarks.report` and ``--json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from benchmarks import BenchError, agent_probe, host, load
from benchmarks import profiling as spy
from benchmarks.dockerctl import container_pid
from benchmarks.figures import summarize
from benchmarks.plan import Plan, sequential_runs
from benchmarks.procstat import CpuMeter, InstanceContainers, pids_named, rss_kb
from benchmarks.programs import PROGRAMS, find
from benchmarks.services import engine
from engine_client import EngineClient
from service.config import Settings
from service.testing.harness import Daemon
from service.testing.nats_servers import NatsServer

RSS_CHECKPOINTS = 10


class EnginePhases:
    """The phases that run the engine; ``measure_agent`` needs ``measure_engine`` first."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.hello = find("python", "hello")
        self.daemon_settings: Settings | None = None

    def _engine(
        self, env: Mapping[str, str]
    ) -> contextlib.AbstractContextManager[tuple[NatsServer, Daemon]]:
        """A nats-server and a daemon of our own; both stopped on the way out."""
        return engine(self.plan.workdir, env, self.plan.say)

    def measure_engine(self) -> dict[str, Any]:
        """Sequential latency per program, a NATS echo, throughput against the host, and
        the daemon's CPU and memory over many jobs (and its profile with ``--profile``)."""
        with self._engine(self.plan.engine_env) as (nats, daemon):
            self.daemon_settings = daemon.settings
            out: dict[str, Any] = {
                "ready_s": daemon.ready_s,
                "settings": {
                    "workers": daemon.settings.workers,
                    "concurrency": daemon.settings.concurrency,
                    "cpus": daemon.settings.cpus,
                    "cpu_period_ms": daemon.settings.cpu_period_ms,
                    "memory_mb": daemon.settings.memory_mb,
                    "recycle_after": daemon.settings.recycle_after,
                },
            }
            out.update(asyncio.run(self._engine_load(nats, daemon)))
            return out

    def measure_uncapped(self) -> dict[str, Any]:
        """Sequential runs and throughput again with the container CPU cap at every core.

        Separates what the cap costs (compilers and Node use several threads) from
        what the engine itself adds.
        """
        cpus = str(os.cpu_count() or 1)
        with self._engine({**self.plan.engine_env, "CODE_ENGINE_CPUS": cpus}) as (nats, _):

            async def sequential() -> dict[str, Any]:
                out: dict[str, Any] = {"cpus": cpus}
                async with await EngineClient.connect(nats.url) as client:
                    for program in PROGRAMS:
                        self.plan.say(f"engine, CPU cap lifted: {program.label}")
                        runs = self.plan.n(20 if program.label == "python hello" else 10, 3)
                        out[program.label] = _engine_summary(
                            await load.sequential(client, program, runs, warmup=2)
                        )
                    out["throughput"] = await self._throughput(client, self.plan.n(150, 30))
                return out

            return asyncio.run(sequential())

    async def _engine_load(self, nats: NatsServer, daemon: Daemon) -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with await EngineClient.connect(nats.url) as client:
            for program in PROGRAMS:  # the first build of each language warms caches
                await load.sequential(client, program, 0, warmup=2)
            out["sequential"] = {}
            for program in PROGRAMS:
                self.plan.say(f"engine: {program.label}")
                runs = sequential_runs("engine", program, self.plan.quick)
                out["sequential"][program.label] = _engine_summary(
                    await load.sequential(client, program, runs, warmup=0)
                )
            self.plan.say("engine: NATS request-reply echo")
            out["nats_echo"] = summarize(
                await load.nats_echo(client, self.plan.n(200, 50))
            ).as_dict()
            out["throughput"] = await self._throughput(client, self.plan.n(200, 30))
            out["resources"] = await self._resources(client, nats, daemon)
            if self.plan.profile:
                out["profile"] = await self._profile_daemon(client, daemon)
        return out

    async def _throughput(self, client: EngineClient, jobs: int) -> dict[str, Any]:
        """Python hello world at each level: the host process pool, then the engine.

        Measured back to back, so both see the same background load on a shared
        machine; their ratio is the number that matters.
        """
        out: dict[str, Any] = {}
        for concurrency in self.plan.levels:
            self.plan.say(f"throughput: python hello, {concurrency} at a time, host then engine")
            rate, latencies = await asyncio.to_thread(
                host.throughput, lambda: host.run_once(self.hello), concurrency, jobs
            )
            result = await load.closed_loop(client, self.hello, concurrency, jobs)
            out[str(concurrency)] = {
                "host": {"jobs_per_s": rate, "latency": summarize(latencies).as_dict()},
                "engine": {
                    "jobs_per_s": result.jobs_per_s,
                    "latency": summarize([r.e2e_ms for r in result.runs]).as_dict(),
                    "failures": len(result.failures),
                },
            }
        return out

    async def _resources(
        self, client: EngineClient, nats: NatsServer, daemon: Daemon
    ) -> dict[str, Any]:
        concurrency = daemon.settings.concurrency
        self.plan.say(f"engine: {self.plan.jobs} jobs, {concurrency} in flight, for CPU and memory")
        meter = CpuMeter(
            {
                "daemon": [daemon.pid],
                "dockerd": pids_named("dockerd"),
                "containerd": pids_named("containerd"),
                "nats-server": [nats.pid],
                "benchmark client": [os.getpid()],
            }
        )
        containers = InstanceContainers(daemon.instance_id)
        idle_s = 2.0 if self.plan.quick else 5.0
        self.plan.say(f"engine: {idle_s:.0f} s idle, for the CPU an idle engine uses")
        async with self._polling(containers):
            meter.start()
            before = containers.used_s()
            await asyncio.sleep(idle_s)
            idle = {name: s * 1000 / idle_s for name, s in meter.stop().items()}
            shims = containers.shims_used_s()
            idle["engine's containers"] = (containers.used_s() - before) * 1000 / idle_s
            idle["their containerd-shims"] = (containers.shims_used_s() - shims) * 1000 / idle_s
        rss = [(0, rss_kb(daemon.pid))]
        failures = 0
        done = 0
        start = time.perf_counter()
        containers = InstanceContainers(daemon.instance_id)
        async with self._polling(containers):
            meter.start()
            for index in range(RSS_CHECKPOINTS):
                chunk = self.plan.jobs // RSS_CHECKPOINTS + (
                    1 if index < self.plan.jobs % RSS_CHECKPOINTS else 0
                )
                result = await load.closed_loop(client, self.hello, concurrency, chunk)
                failures += len(result.failures)
                done += chunk
                rss.append((done, rss_kb(daemon.pid)))
            used = meter.stop()
            used["engine's containers"] = containers.used_s()
            used["their containerd-shims"] = containers.shims_used_s()
        elapsed = time.perf_counter() - start
        return {
            "jobs": self.plan.jobs,
            "concurrency": concurrency,
            "elapsed_s": elapsed,
            "failures": failures,
            "cpu_ms_per_job": {name: s * 1000 / self.plan.jobs for name, s in used.items()},
            "idle_cpu_ms_per_s": idle,
            "rss_kb": rss,
        }

    @contextlib.asynccontextmanager
    async def _polling(self, containers: InstanceContainers) -> AsyncIterator[None]:
        """Poll the containers' CPU in a thread while the block runs."""
        await asyncio.to_thread(containers.start)

        async def poll() -> None:
            while True:
                await asyncio.sleep(0.25)
                await asyncio.to_thread(containers.poll)

        task = asyncio.create_task(poll())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _profile_daemon(self, client: EngineClient, daemon: Daemon) -> dict[str, Any]:
        profile_dir = self.plan.profile_dir
        output = profile_dir / "daemon.collapsed"
        jobs = self.plan.n(1500, 200)
        concurrency = daemon.settings.concurrency
        self.plan.say(f"engine: py-spy on the daemon over {jobs} jobs, {concurrency} in flight")
        meter = CpuMeter({"daemon": [daemon.pid]})
        with spy.record(self.plan.spy, daemon.pid, output, idle=False):
            meter.start()
            task = asyncio.create_task(load.closed_loop(client, self.hello, concurrency, jobs))
            await asyncio.sleep(2)
            dumped = await asyncio.to_thread(spy.dump, self.plan.spy, daemon.pid)
            result = await task
            used = meter.stop()
        await asyncio.to_thread((profile_dir / "daemon.dump.txt").write_text, dumped)
        total, spots = spy.hotspots(output)
        return {
            "file": str(output),
            "jobs": jobs,
            "jobs_per_s": result.jobs_per_s,
            "daemon_cpu_ms_per_job": used["daemon"] * 1000 / jobs,
            "samples": total,
            "inclusive": [(s.frame, s.inclusive, s.own) for s in spots],
            "leaves": [(s.frame, s.own) for s in spy.top_own(output)],
        }

    # -- the agent alone -----------------------------------------------------------

    def measure_agent(self) -> dict[str, Any]:
        """One agent driven directly: transport, its own work per job, CPU per job."""
        settings = self.daemon_settings
        if settings is None:
            raise BenchError("the engine phase did not start; no settings for the agent")
        programs = [
            (self.hello, self.plan.n(100, 20)),
            (find("python", "cpu"), self.plan.n(40, 5)),
            (find("javascript", "hello"), self.plan.n(30, 5)),
            (find("go", "hello"), self.plan.n(10, 3)),
            (find("cpp", "hello"), self.plan.n(10, 3)),
        ]
        result = agent_probe.measure(
            settings,
            f"{self.plan.run_id}-probe",
            programs,
            self.plan.n(200, 50),
            profiler=self._agent_profiler() if self.plan.profile else None,
            profiled_runs=self.plan.n(200, 50),
        )
        out: dict[str, Any] = {"ping": summarize(result.ping_ms).as_dict(), "jobs": {}}
        for label, probe in result.programs.items():
            exchange = [
                rtt - wall - compiled
                for rtt, wall, compiled in zip(
                    probe.job_ms, probe.wall_ms, probe.compile_ms, strict=True
                )
            ]
            out["jobs"][label] = {
                "rtt": summarize(probe.job_ms).as_dict(),
                "wall": summarize(probe.wall_ms).as_dict(),
                "compile": summarize(probe.compile_ms).as_dict(),
                "agent_ms": summarize(exchange).as_dict(),
                "cleanup_after_result": summarize(probe.cleanup_ms).as_dict(),
                "step_cpu": summarize(probe.step_cpu_ms).as_dict(),
                "container_cpu_ms_per_job": probe.container_cpu_ms,
            }
        if self.plan.profile:
            path = self.plan.profile_dir / "agent.collapsed"
            total, spots = spy.hotspots(path)
            out["profile"] = {
                "file": str(path),
                "samples": total,
                "inclusive": [(s.frame, s.inclusive, s.own) for s in spots],
                "leaves": [(s.frame, s.own) for s in spy.top_own(path)],
            }
        return out

    def _agent_profiler(self) -> agent_probe.Profiler:
        @contextlib.contextmanager
        def profiler(container_id: str) -> Iterator[None]:
            pid = container_pid(container_id)
            if pid is None:
                raise BenchError(f"no pid for container {container_id[:12]}")
            self.plan.say(f"agent: py-spy on the agent (pid {pid}), wall clock")
            output = self.plan.profile_dir / "agent.collapsed"
            with spy.record(self.plan.spy, pid, output, idle=True):
                yield

        return profiler


def _engine_summary(runs: list[load.EngineRun]) -> dict[str, Any]:
    good = [r for r in runs if r.ok]
    out: dict[str, Any] = {
        "failures": len(runs) - len(good),
        "statuses": dict(Counter(r.status for r in runs)),
    }
    if not good:
        return out
    out["e2e"] = summarize([r.e2e_ms for r in good]).as_dict()
    out["inside"] = summarize([r.inside_ms for r in good]).as_dict()
    out["run"] = summarize([r.exec_ms for r in good]).as_dict()
    out["overhead"] = summarize([r.overhead_ms for r in good]).as_dict()
    if any(r.compile_ms for r in good):
        out["compile"] = summarize([r.compile_ms for r in good]).as_dict()
    return out
