"""A submission judged against a package, through the engine over NATS.

Each leaf group's tests go as one problems request (split further past the
server's test limit), all of a submission's requests and all submissions at
once up to ``parallel`` in flight: a queue group of daemons takes them in
parallel, and an identical build is compiled once (the engine's compile cache).
The replies are merged in test order and scored here with the engine's own
scoring (:mod:`service.jobs.scoring`), so groups that span requests still add up.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from engine_client import EngineClient, EngineClientError
from service.jobs.scoring import score
from service.requests import TestCase
from service.requests.request import Aggregation, GroupRule
from wire import Status
from wire.replies import GroupReport, ProblemReply, TestReport
from wire.subjects import PROBLEMS_SUBJECT

from .errors import EngineUnreachable
from .expectations import code
from .package import Package, default_validator_fields
from .programs import Program
from .replay import check_interactions
from .testdata import Group, Test

MAX_TESTS_PER_REQUEST = 100
BUSY_RETRY_S = 0.5
REQUEST_TIMEOUT_S = 600.0


@dataclass(slots=True)
class Judgement:
    """A submission's tests, in order, and what they add up to."""

    status: str
    reports: list[TestReport] = field(default_factory=list)
    tests: list[Test] = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None
    compile_output: str = ""

    @property
    def codes(self) -> list[str]:
        """The Kattis code of each judged test (skipped ones were not judged)."""
        return [code(r.status) for r in self.reports if r.status != Status.SKIPPED]

    @property
    def slowest_ms(self) -> float:
        times = [r.cpu_time_ms or r.execution_time_ms or 0.0 for r in self.reports if r.passed]
        return max(times, default=0.0)


class Engine:
    """The engine behind NATS, with at most ``parallel`` requests in flight."""

    def __init__(self, client: EngineClient, parallel: int) -> None:
        self._client = client
        self._slots = asyncio.Semaphore(parallel)

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        async with self._slots:
            while True:
                try:
                    reply = await self._client.send(
                        request, subject=PROBLEMS_SUBJECT, timeout=REQUEST_TIMEOUT_S
                    )
                except EngineClientError as exc:
                    raise EngineUnreachable(f"the engine did not answer: {exc}") from None
                if reply.get("status") != "busy":
                    return reply
                await asyncio.sleep(BUSY_RETRY_S)


def points(package: Package, test: Test) -> float:
    """What ``test`` scores when accepted (pass-fail problems: 1 each)."""
    if not package.meta.scoring:
        return 1.0
    if test.points is not None:
        return test.points
    if test.group == "sample":
        return 0.0
    group = package.data.group(test.group)
    if package.meta.legacy:
        return group.accept_score
    if group.max_score is None:
        return 1.0
    if group.aggregation == "min":
        return group.max_score
    count = sum(1 for other in package.data.tests if other.group == test.group)
    return group.max_score / count


def _limits(package: Package, time_limit_s: float, wall_max_ms: int) -> dict[str, Any]:
    cpu_ms = max(1, math.ceil(time_limit_s * 1000))
    fields: dict[str, Any] = {
        "cpu_time_limit_ms": cpu_ms,
        "timeout_ms": min(wall_max_ms, 2 * cpu_ms + 1000),
    }
    if package.meta.memory_mb:
        fields["memory_mb"] = package.meta.memory_mb
    return fields


def _validation(package: Package, group: Group) -> dict[str, Any]:
    validator = package.output_validator
    where = str(package.root / "data" / group.name)
    if validator is None and package.compare is not None:
        return dict(package.compare)
    if validator is None:
        return default_validator_fields(group.output_validator_args, where)
    tool = {**validator.wire(), "convention": package.convention or convention(validator)}
    if group.output_validator_args and tool["convention"] == "kattis":
        tool["args"] = list(group.output_validator_args)
    if package.meta.multi_pass:
        tool["passes"] = package.meta.validation_passes
    return {"interactor" if package.meta.interactive else "checker": tool}


def convention(validator: Program) -> str:
    """testlib when the validator carries a testlib header (testlib*.h), else kattis.

    The package format's validators are Kattis's; one written against testlib
    reads its files from argv as testlib does, and brings its header along.
    """
    names = [name.rsplit("/", 1)[-1] for name, _ in validator.files]
    testlib = any(name.startswith("testlib") and name.endswith(".h") for name in names)
    return "testlib" if testlib else "kattis"


def requests_for(
    package: Package, program: Program, time_limit_s: float, wall_max_ms: int
) -> list[tuple[list[Test], dict[str, Any]]]:
    """The requests that judge ``program``: one per leaf group (or piece of one)."""
    by_group: dict[str, list[Test]] = {}
    for test in package.data.tests:
        by_group.setdefault(test.group, []).append(test)
    found = []
    for name, tests in by_group.items():
        group = package.data.group(name)
        for start in range(0, len(tests), MAX_TESTS_PER_REQUEST):
            chunk = tests[start : start + MAX_TESTS_PER_REQUEST]
            request = {
                **program.wire(),
                **_limits(package, time_limit_s, wall_max_ms),
                **_validation(package, group),
                **package.meta.file_task_fields(),
                "stop_on_first_failure": not package.meta.scoring,
                "tests": [
                    {
                        "id": test.name,
                        "stdin": _b64(test.input),
                        "expected_output": _b64(test.answer),
                        "points": points(package, test),
                    }
                    for test in chunk
                ],
            }
            found.append((chunk, request))
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def judge(
    engine: Engine,
    package: Package,
    program: Program,
    time_limit_s: float,
    wall_max_ms: int,
) -> Judgement:
    """Judge ``program`` on every test of ``package`` under ``time_limit_s``."""
    pieces = requests_for(package, program, time_limit_s, wall_max_ms)
    replies = await asyncio.gather(*(engine.send(request) for _, request in pieces))
    judgement = Judgement(status=Status.ACCEPTED)
    for (tests, _), reply in zip(pieces, replies, strict=True):
        judgement.tests += tests
        judgement.reports += _reports(tests, reply, judgement)
    if package.interaction_check is not None:
        judgement.reports = await check_interactions(
            engine, package, judgement.tests, judgement.reports, package.interaction_check
        )
    judgement.status = next(
        (r.status for r in judgement.reports if r.status not in (Status.ACCEPTED, Status.SKIPPED)),
        judgement.status,
    )
    if package.meta.scoring:
        scores = score(
            [TestCase(t.name, b"", None, points(package, t), t.group) for t in judgement.tests],
            judgement.reports,
            Status.SKIPPED,
            _rules(package),
        )
        judgement.score = round(scores.score - _unmet(package, scores.groups), 9)
        judgement.max_score = scores.max_score
    return judgement


def _unmet(package: Package, groups: list[GroupReport] | None) -> float:
    """What the groups whose required groups are not all accepted scored: they score 0
    (Polygon's group dependencies)."""
    by_id = {group.id: group for group in groups or ()}
    lost = 0.0
    for group in package.data.groups:
        needed = [by_id[name] for name in group.requires if name in by_id]
        if group.name in by_id and any(g.status != Status.ACCEPTED for g in needed):
            lost += by_id[group.name].score
    return lost


def _reports(tests: list[Test], reply: dict[str, Any], judgement: Judgement) -> list[TestReport]:
    if reply.get("status") == Status.COMPILE_ERROR:
        judgement.compile_output = reply.get("compile_output", "")
    try:
        decoded = msgspec.convert(reply, ProblemReply)
    except msgspec.ValidationError:
        decoded = None
    if decoded is not None and len(decoded.tests) == len(tests):
        return decoded.tests
    status = Status(reply.get("status", Status.INTERNAL_ERROR))
    reason = reply.get("error") or reply.get("compile_output", "")
    return [TestReport(id=t.name, status=status, passed=False, error=reason) for t in tests]


def _rules(package: Package) -> list[GroupRule]:
    return [
        GroupRule(g.name, g.parent, Aggregation(g.aggregation), g.on_reject_break)
        for g in package.data.groups
        if g.name != "sample"
    ]


def time_limit(package: Package, slowest_ms: float) -> float:
    """The time limit as the format computes it: the slowest accepted run times the
    multiplier, rounded up to the time resolution (or the package's own ``time_limit``)."""
    meta = package.meta
    if meta.time_limit_s is not None:
        return meta.time_limit_s
    steps = math.ceil(slowest_ms / 1000 * meta.ac_to_time_limit / meta.time_resolution_s - 1e-9)
    return max(1, steps) * meta.time_resolution_s


@dataclass(frozen=True, slots=True)
class InputCheck:
    test: str
    validator: str
    valid: bool
    message: str


async def validate_inputs(
    engine: Engine, package: Package, progress: Callable[[str], None]
) -> list[InputCheck]:
    """Run every input validator on every input (and on data/invalid_input)."""

    async def one(validator: Program, test: Test) -> InputCheck:
        args = (
            package.data.group(test.group).input_validator_args
            if test.group != "invalid_input"
            else ()
        )
        request = {**validator.wire(), "stdin": _b64(test.input), "args": list(args)}
        reply = await engine.send(request)
        valid = reply.get("exit_code") == package.valid_input_exit
        message = (reply.get("error") or reply.get("output") or "").strip()[:200]
        progress(".")
        return InputCheck(test.name, validator.path.name, valid, message)

    work = [
        one(validator, test)
        for validator in package.input_validators
        for test in (*package.data.tests, *package.data.invalid_inputs)
    ]
    return list(await asyncio.gather(*work))
