"""What one run measures and how much: iteration counts, concurrency levels, where files go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import BenchError
from benchmarks.programs import Program

CONCURRENCY_LEVELS = (1, 2, 4, 8, 16)


def sequential_runs(where: str, program: Program, quick: bool) -> int:
    """How many sequential runs of ``program`` to measure ``where`` (host, docker, engine)."""
    # (python hello, other interpreted, compiled): python hello carries the
    # percentiles that matter most, compiled programs take about a second each.
    counts = {"host": (40, 20, 10), "docker": (8, 5, 5), "engine": (200, 40, 15)}[where]
    if program.label == "python hello":
        n = counts[0]
    else:
        n = counts[2] if program.compiled else counts[1]
    return max(3, n // 8) if quick else n


@dataclass(frozen=True)
class Plan:
    run_id: str  # labels every container the run starts
    quick: bool
    jobs: int  # for the daemon's CPU and memory check
    levels: list[int]  # requests in flight for throughput
    workdir: Path  # logs and configs of the services under test
    engine_env: dict[str, str]  # settings for the daemon under test
    say: Callable[[str], None]  # progress, on stderr
    profile: str | None = None  # directory for py-spy recordings
    py_spy: Path | None = None

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def profile_dir(self) -> Path:
        if self.profile is None:
            raise BenchError("no --profile directory")
        return Path(self.profile)

    @property
    def spy(self) -> Path:
        if self.py_spy is None:
            raise BenchError("py-spy is not installed")
        return self.py_spy
