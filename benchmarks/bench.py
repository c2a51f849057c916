"""Latency, throughput and CPU and memory cost of the engine against the alternatives, in one run.

    .venv/bin/python -m benchmarks.bench [--quick] [--skip-peer] [--jobs N] [--json PATH]
                                         [--profile DIR] [--engine-env KEY=VALUE ...]

Phases, in order: the bare programs on the host, one ``docker run`` per request,
llm-sandbox (pooled and a session per run), the engine end to end over NATS
(sequential latency, throughput against a host process pool, its CPU and memory
over many jobs; :mod:`benchmarks.engine_phase`), the agent alone over its attach
stream, and the engine again with its CPU cap lifted. Everything it starts
(nats-server, the daemon, containers) is stopped and removed at the end, on an
error and on Ctrl-C. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _reexec_as_module() -> None:
    # `python benchmarks/bench.py` from any interpreter: rerun as a module under the
    # project's virtualenv (which has nats-py, trio and the engine's own packages).
    root = Path(__file__).resolve().parent.parent
    venv_python = root / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    os.execve(python, [python, "-m", "benchmarks.bench", *sys.argv[1:]], env)


if __name__ == "__main__" and not __package__:
    _reexec_as_module()

from benchmarks import BenchError, docker_run, host, peer  # noqa: E402
from benchmarks.dockerctl import (  # noqa: E402
    BENCH_LABEL,
    INSTANCE_LABEL,
    image_id,
    remove_containers,
    running_containers,
)
from benchmarks.engine_phase import EnginePhases  # noqa: E402
from benchmarks.figures import summarize  # noqa: E402
from benchmarks.plan import CONCURRENCY_LEVELS, Plan, sequential_runs  # noqa: E402
from benchmarks.procstat import describe_machine  # noqa: E402
from benchmarks.programs import PROGRAMS, missing_host_tool  # noqa: E402
from benchmarks.report import render  # noqa: E402


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick: bool = args.quick
        self.run_id = f"bench-{uuid.uuid4().hex[:8]}"
        self.started = time.monotonic()
        self.results: dict[str, Any] = {"run_id": self.run_id, "quick": self.quick}
        self.image: str = os.environ.get("CODE_ENGINE_IMAGE", "code-engine-worker:latest")
        self.engine_env = dict(kv.split("=", 1) for kv in args.engine_env)
        self.jobs: int = args.jobs or (200 if self.quick else 2000)

    def say(self, text: str) -> None:
        print(
            f"[bench {time.monotonic() - self.started:6.1f}s] {text}", file=sys.stderr, flush=True
        )

    def phase(self, name: str, run: Callable[[], Any]) -> None:
        """Run one phase; a BenchError is recorded in the results, not raised."""
        self.say(f"{name} ...")
        try:
            self.results[name] = run()
        except BenchError as exc:
            self.say(f"{name} failed: {exc}")
            self.results[name] = {"error": str(exc)}

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    # -- the run -----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if image_id(self.image) is None:
            raise BenchError(
                f"image {self.image} not found: run `.venv/bin/code-engine build-image`"
            )
        with contextlib.ExitStack() as cleanup, tempfile.TemporaryDirectory() as tmp:
            cleanup.callback(self._remove_leftovers)
            self.results["machine"] = describe_machine(self.image)
            # Someone else's containers share the two cores: say so next to the numbers.
            self.results["machine"]["other_containers"] = [
                f"{ident} {image}" for ident, image, _ in running_containers()
            ]
            self.results["machine"]["image"] = f"{self.image} {image_id(self.image)}"
            py_spy = None
            if self.args.profile:
                Path(self.args.profile).mkdir(parents=True, exist_ok=True)
                py_spy = peer.ensure_venv([peer.PY_SPY], self.say).with_name("py-spy")
            engine = EnginePhases(
                Plan(
                    run_id=self.run_id,
                    quick=self.quick,
                    jobs=self.jobs,
                    levels=self.levels(),
                    workdir=Path(tmp),
                    engine_env=self.engine_env,
                    say=self.say,
                    profile=self.args.profile,
                    py_spy=py_spy,
                )
            )
            self.phase("host", self.measure_host)
            self.phase("docker_run", self.measure_docker_run)
            if self.args.skip_peer:
                self.results["peer"] = {"skipped": "--skip-peer"}
            else:
                self.phase("peer", self.measure_peer)
            self.phase("engine", engine.measure_engine)
            self.phase("agent", engine.measure_agent)
            self.phase("engine_uncapped", engine.measure_uncapped)
            self.results["machine"]["load_average_end"] = " ".join(
                f"{x:.2f}" for x in os.getloadavg()
            )
        return self.results

    def _remove_leftovers(self) -> None:
        removed = remove_containers(f"{BENCH_LABEL}={self.run_id}")
        removed += remove_containers(f"{INSTANCE_LABEL}={self.run_id}-probe")
        if removed:
            self.say(f"removed {removed} leftover containers")

    # -- host, docker run, peer --------------------------------------------------

    def measure_host(self) -> dict[str, Any]:
        sequential: dict[str, Any] = {}
        for program in PROGRAMS:
            missing = missing_host_tool(program)
            if missing:
                sequential[program.label] = {"missing": missing}
                continue
            self.say(f"host: {program.label}")
            runs = host.sequential(program, sequential_runs("host", program, self.quick))
            compiles = [r.compile_ms for r in runs if r.compile_ms is not None]
            sequential[program.label] = {
                "total": summarize([r.total_ms for r in runs]).as_dict(),
                "compile": summarize(compiles).as_dict() if compiles else None,
                "run": summarize([r.run_ms for r in runs]).as_dict(),
                "cpu": summarize([r.cpu_ms for r in runs]).as_dict(),
            }
        return {"sequential": sequential}

    def levels(self) -> list[int]:
        concurrency = self.engine_concurrency()
        return sorted({*CONCURRENCY_LEVELS, concurrency})

    def engine_concurrency(self) -> int:
        from service.config import Settings

        return Settings.from_env({**os.environ, **self.engine_env}).concurrency

    def measure_docker_run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for program in PROGRAMS:
            self.say(f"docker run: {program.label}")
            runs = sequential_runs("docker", program, self.quick)
            out[program.label] = summarize(
                docker_run.sequential(program, runs, self.image, self.run_id)
            ).as_dict()
        return out

    def measure_peer(self) -> dict[str, Any]:
        runs = {
            "pooled": self.n(40, 5),
            "open_session": self.n(20, 5),
            "session_per_run": self.n(15, 3),
            "warmup": self.n(3, 1),
        }
        raw = peer.measure(self.image, self.run_id, runs, self.say)
        out: dict[str, Any] = {"version": raw["version"], "pool_warm_ms": raw["pool_warm_ms"]}
        for mode in ("pooled", "open_session", "session_per_run"):
            out[mode] = {kind: summarize(xs).as_dict() for kind, xs in raw[mode].items()}
        return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Benchmark code-engine against the bare host, `docker run` and llm-sandbox.",
    )
    parser.add_argument("--quick", action="store_true", help="few iterations (a smoke run)")
    parser.add_argument("--skip-peer", action="store_true", help="do not measure llm-sandbox")
    parser.add_argument(
        "--jobs",
        type=int,
        help="jobs for the daemon's CPU and memory check (default 2000, 200 with --quick; "
        "10000 for the memory-flatness check)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="also sample the daemon and an agent with py-spy; recordings go to DIR",
    )
    parser.add_argument(
        "--engine-env",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a setting for the daemon under test, e.g. CODE_ENGINE_CONCURRENCY=4 (repeatable)",
    )
    return parser


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for item in args.engine_env:
        if "=" not in item:
            print(f"--engine-env wants KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, _interrupt)
    bench = Bench(args)
    try:
        results = bench.run()
    except KeyboardInterrupt:
        print("\ninterrupted: everything the benchmark started has been stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        bench.say(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
