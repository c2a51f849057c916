"""``code-engine judge PACKAGE SUBMISSION...`` and ``code-engine verify PACKAGE``.

Exit codes: 0 all as expected, 1 a mismatch (or a rejected input), 2 a
malformed package, 125 the engine could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from engine_client import EngineClient, EngineClientError
from wire.connection import NatsConnection

from .errors import PackageError
from .expectations import Submission
from .judging import Engine, InputCheck, Judgement, judge, time_limit, validate_inputs
from .package import Package, read_package
from .programs import load_program
from .source import opened

MISMATCH, MALFORMED, UNREACHABLE = 1, 2, 125


def add_commands(commands: Any, nats_help: str) -> None:
    """The two subcommands, on the CLI's subparsers."""
    for name, text in (
        ("judge", "judge submissions against a problem package"),
        ("verify", "run a package's submissions and check each against its folder"),
    ):
        parser = commands.add_parser(name, help=text, description=text + ".")
        parser.add_argument("package", type=Path, help="the package: a directory or a .zip")
        if name == "judge":
            parser.add_argument("submissions", type=Path, nargs="+", help="files or directories")
            parser.add_argument("--time-limit", type=float, help="seconds (default: the package's)")
        parser.add_argument("--parallel", type=int, default=16, help="requests in flight")
        parser.add_argument(
            "--wall-max-ms",
            type=int,
            default=10_000,
            help="the engine's wall-clock maximum (CODE_ENGINE_TIMEOUT_MS)",
        )
        parser.add_argument("--nats", help=nats_help)
        parser.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace, connection: NatsConnection) -> int:
    try:
        with opened(args.package) as root:
            package = read_package(root)
            for warning in package.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            return asyncio.run(_run(args, package, connection))
    except PackageError as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return UNREACHABLE if "did not answer" in str(exc) else MALFORMED
    except EngineClientError as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return UNREACHABLE


def _progress(text: str) -> None:
    print(text, end="" if text == "." else "\n", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace, package: Package, connection: NatsConnection) -> int:
    started = time.monotonic()
    async with await EngineClient.connect(connection=connection, attempts=1) as client:
        engine = Engine(client, args.parallel)
        if args.command == "judge":
            entries = [Submission(path, str(path), "") for path in args.submissions]
            checks: list[InputCheck] = []
        else:
            entries = list(package.submissions)
            checks = await validate_inputs(engine, package, _progress)
            if checks:
                _progress("")
        limit, results = await _judge_all(args, engine, package, entries)
    report = _report(package, limit, results, checks, time.monotonic() - started)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    failed = any(r["problems"] for r in report["submissions"]) or report["inputs"]["problems"]
    return MISMATCH if failed else 0


async def _judge_all(
    args: argparse.Namespace, engine: Engine, package: Package, entries: list[Submission]
) -> tuple[float, list[tuple[Submission, Judgement]]]:
    """Judge each entry; the package's accepted submissions first when they set the limit."""
    given = getattr(args, "time_limit", None) or package.meta.time_limit_s
    wall_max = args.wall_max_ms
    setters = [] if given else [s for s in package.submissions if s.sets_time_limit]
    rest = [e for e in entries if e not in setters]
    total, done = len(setters) + len(rest), 0

    async def one(entry: Submission, limit: float) -> tuple[Submission, Judgement]:
        nonlocal done
        judged = await judge(engine, package, load_program(entry.path), limit, wall_max)
        done += 1
        _progress(f"[{done}/{total}] {entry.name}: {judged.status} ({judged.slowest_ms:.0f} ms)")
        return entry, judged

    first: list[tuple[Submission, Judgement]] = []
    if given:
        limit = given
    else:
        # Judged at half the wall maximum, then the limit computed from their times.
        first = list(await asyncio.gather(*(one(e, wall_max / 2000) for e in setters)))
        slowest = max((j.slowest_ms for _, j in first), default=0.0)
        limit = time_limit(package, slowest)
        _progress(f"time limit {limit:g} s (slowest accepted run {slowest:.0f} ms)")
    results = list(await asyncio.gather(*(one(e, limit) for e in rest)))
    if args.command == "verify":
        results = first + results
    return limit, results


def _report(
    package: Package,
    limit: float,
    results: list[tuple[Submission, Judgement]],
    checks: list[InputCheck],
    seconds: float,
) -> dict[str, Any]:
    submissions = []
    for entry, judged in results:
        submissions.append(
            {
                "submission": entry.name,
                "folder": entry.folder,
                "status": str(judged.status),
                "score": judged.score,
                "max_score": judged.max_score,
                "slowest_ms": round(judged.slowest_ms, 1),
                "problems": entry.problems(judged.codes, judged.score),
                "tests": [
                    {
                        "id": r.id,
                        "status": str(r.status),
                        "score": r.score,
                        "time_ms": r.cpu_time_ms,
                        "message": (r.checker_output or r.error)[:200],
                    }
                    for r in judged.reports
                ],
                "compile_output": judged.compile_output,
            }
        )
    rejected = [c for c in checks if not c.valid and not c.test.startswith("invalid_input/")]
    invalid = {c.test for c in checks if c.test.startswith("invalid_input/")}
    accepted_invalid = sorted(
        name for name in invalid if all(c.valid for c in checks if c.test == name)
    )
    problems = [f"{c.test}: rejected by {c.validator}: {c.message}" for c in rejected]
    problems += [f"{name}: accepted by every input validator" for name in accepted_invalid]
    return {
        "package": package.meta.name,
        "version": package.meta.version,
        "time_limit_s": limit,
        "seconds": round(seconds, 2),
        "inputs": {"checked": len(checks), "problems": problems},
        "submissions": submissions,
    }


def _print(report: dict[str, Any]) -> None:
    print(f"{report['package']} ({report['version']}): time limit {report['time_limit_s']:g} s")
    inputs = report["inputs"]
    print(f"input validation: {inputs['checked']} checks, {len(inputs['problems'])} problems")
    for problem in inputs["problems"]:
        print(f"  MISMATCH {problem}")
    for sub in report["submissions"]:
        mark = "MISMATCH" if sub["problems"] else "ok"
        score = f" score {sub['score']:g}/{sub['max_score']:g}" if sub["score"] is not None else ""
        print(f"{mark:8} {sub['submission']}: {sub['status']}{score} ({sub['slowest_ms']:g} ms)")
        for problem in sub["problems"]:
            print(f"         {problem}")
        if not sub["folder"]:
            for test in sub["tests"]:
                print(f"         {test['id']}: {test['status']} {test['message'][:80]!r}")
    print(f"{len(report['submissions'])} submissions in {report['seconds']:g} s")
