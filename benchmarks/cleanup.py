"""The cost of the reset between jobs: this checkout's worker image against another's.

    .venv/bin/python -m benchmarks.cleanup --baseline code-engine-worker:before

Drives one container of each image directly (:mod:`benchmarks.agent_probe`, no
daemon), in alternating rounds so that both see the same background load, and
prints per program the median job round trip, the cleanup after the result
(the agent's wipe, kill and verification, owed after an early result) and the
container's CPU time per job. Build the baseline image from an older checkout
with ``code-engine build-image --tag NAME`` run there.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

from benchmarks.agent_probe import ProgramProbe, measure
from benchmarks.programs import find
from service.config import Settings

PROGRAMS = (("python", "hello", 60), ("javascript", "hello", 20), ("cpp", "hello", 8))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _round(image: str, round_no: int) -> dict[str, ProgramProbe]:
    settings = dataclasses.replace(Settings.from_env(), image=image)
    programs = [(find(language, kind), jobs) for language, kind, jobs in PROGRAMS]
    return measure(settings, f"cleanup-bench-{round_no}", programs, ping_runs=20).programs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="the worker image to compare with")
    parser.add_argument("--image", default=Settings.from_env().image, help="the image measured")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    images = {"baseline": args.baseline, "this": args.image}
    seen: dict[str, dict[str, ProgramProbe]] = {name: {} for name in images}
    for round_no in range(args.rounds):
        for name, image in images.items():
            for label, probe in _round(image, round_no).items():
                kept = seen[name].setdefault(label, ProgramProbe([], [], [], [], [], 0.0))
                kept.job_ms += probe.job_ms
                kept.cleanup_ms += probe.cleanup_ms
                if probe.container_cpu_ms is not None:
                    kept.step_cpu_ms.append(probe.container_cpu_ms)
    header = ("program", "image", "job ms", "cleanup ms", "container CPU ms/job")
    print(f"{header[0]:<20} {header[1]:<9} {header[2]:>8} {header[3]:>11} {header[4]:>21}")
    for label in seen["this"]:
        for name in images:
            probe = seen[name][label]
            print(
                f"{label:<20} {name:<9} {_median(probe.job_ms):8.2f} "
                f"{_median(probe.cleanup_ms):11.2f} {_median(probe.step_cpu_ms):21.2f}"
            )


if __name__ == "__main__":
    main()
