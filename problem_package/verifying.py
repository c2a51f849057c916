"""The verification of a package, or the judging of submissions against one, as a
:class:`wire.packages.PackageReport`: for the CLI and for packages.verify.request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from wire.packages import InputsOutcome, PackageReport, SubmissionOutcome, TestOutcome

from .expectations import Submission
from .generation import complete_tests
from .judging import Engine, InputCheck, Judgement, judge, time_limit, validate_inputs
from .package import Package
from .programs import load_program

Progress = Callable[[str], None]


def quiet(text: str) -> None:
    """Progress that goes nowhere."""


async def verify(
    engine: Engine, package: Package, wall_max_ms: int, progress: Progress = quiet
) -> PackageReport:
    """Validate the inputs and judge every submission against its folder."""
    started = time.monotonic()
    package = await complete_tests(engine, package, wall_max_ms, progress)
    checks = await validate_inputs(engine, package, progress)
    if checks:
        progress("")
    limit, results = await judge_all(
        engine, package, list(package.submissions), wall_max_ms, None, progress, keep_setters=True
    )
    return report(package, limit, results, checks, time.monotonic() - started)


async def judge_files(
    engine: Engine,
    package: Package,
    paths: list[Path],
    wall_max_ms: int,
    given_limit: float | None,
    progress: Progress = quiet,
) -> PackageReport:
    """Judge submissions of one's own against ``package``."""
    started = time.monotonic()
    package = await complete_tests(engine, package, wall_max_ms, progress)
    entries = [Submission(path, str(path), "") for path in paths]
    limit, results = await judge_all(
        engine, package, entries, wall_max_ms, given_limit, progress, keep_setters=False
    )
    return report(package, limit, results, [], time.monotonic() - started)


async def judge_all(
    engine: Engine,
    package: Package,
    entries: list[Submission],
    wall_max_ms: int,
    given_limit: float | None,
    progress: Progress,
    *,
    keep_setters: bool,
) -> tuple[float, list[tuple[Submission, Judgement]]]:
    """Judge each entry; the package's accepted submissions first when they set the limit."""
    given = given_limit or package.meta.time_limit_s
    setters = [] if given else [s for s in package.submissions if s.sets_time_limit]
    rest = [e for e in entries if e not in setters]
    total, done = len(setters) + len(rest), 0

    async def one(entry: Submission, limit: float) -> tuple[Submission, Judgement]:
        nonlocal done
        judged = await judge(engine, package, load_program(entry.path), limit, wall_max_ms)
        done += 1
        progress(f"[{done}/{total}] {entry.name}: {judged.status} ({judged.slowest_ms:.0f} ms)")
        return entry, judged

    first: list[tuple[Submission, Judgement]] = []
    if given:
        limit = given
    else:
        # Judged at half the wall maximum, then the limit computed from their times.
        first = list(await asyncio.gather(*(one(e, wall_max_ms / 2000) for e in setters)))
        slowest = max((j.slowest_ms for _, j in first), default=0.0)
        limit = time_limit(package, slowest)
        progress(f"time limit {limit:g} s (slowest accepted run {slowest:.0f} ms)")
    # What must time out must do so with the margin the format asks for, too.
    margin = package.meta.time_limit_to_tle
    results = list(
        await asyncio.gather(
            *(one(e, limit * margin if e.bounds_time_limit else limit) for e in rest)
        )
    )
    return limit, (first if keep_setters else []) + results


def report(
    package: Package,
    limit: float,
    results: list[tuple[Submission, Judgement]],
    checks: list[InputCheck],
    seconds: float,
) -> PackageReport:
    submissions = [
        SubmissionOutcome(
            submission=entry.name,
            folder=entry.folder,
            status=str(judged.status),
            score=judged.score,
            max_score=judged.max_score,
            slowest_ms=round(judged.slowest_ms, 1),
            problems=entry.problems(judged.codes, judged.score),
            tests=[
                TestOutcome(
                    id=r.id,
                    status=str(r.status),
                    score=r.score,
                    time_ms=r.cpu_time_ms,
                    message=(r.checker_output or r.error)[:200],
                )
                for r in judged.reports
            ],
            compile_output=judged.compile_output,
        )
        for entry, judged in results
    ]
    invalid = {c.test for c in checks if c.test.startswith("invalid_input/")}
    problems = [
        f"{c.test}: rejected by {c.validator}: {c.message}"
        for c in checks
        if not c.valid and c.test not in invalid
    ]
    problems += [
        f"{name}: accepted by every input validator"
        for name in sorted(invalid)
        if all(c.valid for c in checks if c.test == name)
    ]
    return PackageReport(
        package=package.meta.name,
        version=package.meta.version,
        time_limit_s=limit,
        seconds=round(seconds, 2),
        inputs=InputsOutcome(checked=len(checks), problems=problems),
        submissions=submissions,
        warnings=list(package.warnings),
    )
