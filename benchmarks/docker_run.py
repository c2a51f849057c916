"""The naive design: one ``docker run --rm`` per request.

The worker image with its agent entrypoint replaced by ``sh``, which writes the
source (sent on stdin), compiles it with the engine's flags and runs it. No
network; no CPU or memory limit (the command a first design would use).
"""

from __future__ import annotations

import subprocess
import time

from benchmarks import BenchError
from benchmarks.dockerctl import BENCH_LABEL
from benchmarks.programs import Program, shell_script

RUN_TIMEOUT_S = 120.0


def run_once(program: Program, image: str, run_id: str) -> float:
    """Milliseconds for one ``docker run`` of ``program``, from the CLI's start to its exit.

    Raises:
        BenchError: docker failed or the program printed something unexpected.
    """
    argv = [
        "docker",
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--label",
        f"{BENCH_LABEL}={run_id}",
        "--entrypoint",
        "sh",
        image,
        "-c",
        shell_script(program),
    ]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            input=program.source.encode(),
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"docker run of {program.label} failed: {exc}") from None
    elapsed = (time.perf_counter() - start) * 1000
    stdout = done.stdout.decode(errors="replace")
    if done.returncode != 0 or stdout.strip() != program.expected:
        stderr = done.stderr.decode(errors="replace")[-500:]
        raise BenchError(
            f"docker run of {program.label} exited {done.returncode}, printed {stdout[:80]!r}: "
            f"{stderr}"
        )
    return elapsed


def sequential(program: Program, runs: int, image: str, run_id: str) -> list[float]:
    """``runs`` measured runs after one unmeasured one."""
    run_once(program, image, run_id)
    return [run_once(program, image, run_id) for _ in range(runs)]
