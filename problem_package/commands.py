"""``code-engine judge PACKAGE SUBMISSION...``, ``code-engine verify PACKAGE`` and
``code-engine serve-packages``.

Exit codes: 0 all as expected, 1 a mismatch (or a rejected input), 2 a
malformed package, 125 the engine could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from engine_client import EngineClient, EngineClientError
from wire.connection import NatsConnection
from wire.packages import PackageReport

from .errors import EngineUnreachable, PackageError
from .judging import Engine
from .package import read_package
from .source import opened
from .verifying import judge_files, verify

MISMATCH, MALFORMED, UNREACHABLE = 1, 2, 125
DEFAULT_MAX_PACKAGE_MB = 256


def add_commands(commands: Any, nats_help: str) -> None:
    """The subcommands, on the CLI's subparsers."""
    for name, text in (
        ("judge", "judge submissions against a problem package"),
        ("verify", "run a package's submissions and check each against its folder or tag"),
        ("serve-packages", "verify packages sent on packages.verify.request"),
    ):
        parser = commands.add_parser(name, help=text, description=text + ".")
        if name != "serve-packages":
            parser.add_argument(
                "package",
                type=Path,
                help="the package (ICPC/Kattis problem.yaml or Polygon problem.xml): "
                "a directory or a .zip",
            )
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
        if name != "serve-packages":
            parser.add_argument("--json", action="store_true", help="print the report as JSON")
        else:
            parser.add_argument(
                "--max-package-mb",
                type=int,
                default=DEFAULT_MAX_PACKAGE_MB,
                help="the largest package fetched from a JetStream object store, in MiB",
            )


def run(args: argparse.Namespace, connection: NatsConnection) -> int:
    try:
        if args.command == "serve-packages":
            from .service import serve

            limit = args.max_package_mb << 20
            asyncio.run(serve(connection, args.parallel, args.wall_max_ms, limit))
            return 0
        with opened(args.package) as root:
            package = read_package(root)
            for warning in package.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            report = asyncio.run(_report(args, package, connection))
    except EngineUnreachable as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return UNREACHABLE
    except PackageError as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return MALFORMED
    except EngineClientError as exc:
        print(f"code-engine: {exc}", file=sys.stderr)
        return UNREACHABLE
    if args.json:
        print(json.dumps(msgspec.to_builtins(report), indent=2))
    else:
        _print(report)
    return 0 if report.ok else MISMATCH


def _progress(text: str) -> None:
    print(text, end="" if text == "." else "\n", file=sys.stderr, flush=True)


async def _report(
    args: argparse.Namespace, package: Any, connection: NatsConnection
) -> PackageReport:
    async with await EngineClient.connect(connection=connection, attempts=1) as client:
        engine = Engine(client, args.parallel)
        if args.command == "judge":
            return await judge_files(
                engine, package, args.submissions, args.wall_max_ms, args.time_limit, _progress
            )
        return await verify(engine, package, args.wall_max_ms, _progress)


def _print(report: PackageReport) -> None:
    print(f"{report.package} ({report.version}): time limit {report.time_limit_s:g} s")
    if report.inputs.checked:
        problems = report.inputs.problems
        print(f"input validation: {report.inputs.checked} checks, {len(problems)} problems")
        for problem in problems:
            print(f"  MISMATCH {problem}")
    for sub in report.submissions:
        mark = "MISMATCH" if sub.problems else "ok"
        score = f" score {sub.score:g}/{sub.max_score:g}" if sub.score is not None else ""
        print(f"{mark:8} {sub.submission}: {sub.status}{score} ({sub.slowest_ms:g} ms)")
        for problem in sub.problems:
            print(f"         {problem}")
        if not sub.folder:
            for test in sub.tests:
                print(f"         {test.id}: {test.status} {test.message[:80]!r}")
    print(f"{len(report.submissions)} submissions in {report.seconds:g} s")
