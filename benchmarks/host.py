"""The physical limit: each program as a bare process on the host.

Compiled programs are compiled and run every time, each in a fresh directory (so
Go starts with an empty build cache, as it does in the engine). Throughput runs
``concurrency`` such jobs at once from a thread pool, each a real process.
"""

from __future__ import annotations

import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks import BenchError
from benchmarks.programs import Program, commands

STEP_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class HostRun:
    total_ms: float  # compile + run
    compile_ms: float | None
    run_ms: float
    # CPU of the processes this run waited for; only meaningful when one job runs at a time.
    cpu_ms: float


def _children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def _step(argv: list[str], env: dict[str, str], cwd: str, what: str) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        done = subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, timeout=STEP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{what} failed on the host: {exc}") from None
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")[-500:]
        raise BenchError(f"{what} exited {done.returncode} on the host: {stderr}")
    return elapsed, done.stdout.decode(errors="replace")


def run_once(program: Program) -> HostRun:
    """Compile (if needed) and run ``program`` once in a fresh directory.

    Raises:
        BenchError: a step failed or printed something unexpected.
    """
    cpu_before = _children_cpu_ms()
    with tempfile.TemporaryDirectory(prefix="code-engine-bench-") as tmp:
        cmds = commands(program, tmp, host=True)
        with open(cmds.source_path, "w") as f:
            f.write(program.source)
        compile_ms = None
        if cmds.compile:
            compile_ms, _ = _step(cmds.compile, cmds.compile_env, tmp, f"compiling {program.label}")
        run_ms, stdout = _step(cmds.run, cmds.run_env, tmp, f"running {program.label}")
    if stdout.strip() != program.expected:
        raise BenchError(f"{program.label} printed {stdout[:80]!r} on the host")
    cpu_ms = _children_cpu_ms() - cpu_before
    return HostRun((compile_ms or 0.0) + run_ms, compile_ms, run_ms, cpu_ms)


def sequential(program: Program, runs: int, *, warmup: int = 1) -> list[HostRun]:
    """``runs`` runs one after another, after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        run_once(program)
    return [run_once(program) for _ in range(runs)]


def throughput(
    job: Callable[[], object], concurrency: int, total: int
) -> tuple[float, list[float]]:
    """Run ``total`` jobs, ``concurrency`` at a time; (jobs per second, latencies in ms)."""
    latencies: list[float] = []

    def timed() -> None:
        start = time.perf_counter()
        job()
        latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        for future in [pool.submit(timed) for _ in range(total)]:
            future.result()
    finally:
        # On an error or Ctrl-C the jobs not yet started are dropped, not run.
        pool.shutdown(wait=True, cancel_futures=True)
    elapsed = time.perf_counter() - start
    return total / elapsed, latencies
