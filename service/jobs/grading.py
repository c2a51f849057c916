"""Problems mode: output comparison, per-test verdicts, and how they add up.

A problems request is a v1 request plus ``tests``; the source is compiled once and
run once per test in a clean state (:mod:`service.jobs.judge`). This module
grades each test's run and sums the reports into the request's reply.
"""

from __future__ import annotations

import msgspec

from agent.protocol import StepResult
from wire import Status
from wire.replies import ProblemReply, TestReport

from ..requests import DEFAULT_FLOAT_TOLERANCE, Compare, ExecuteRequest, TestCase
from ..requests.request import Convention, DefaultValidator
from .checking import (
    Checked,
    broke_off,
    checker_text,
    checker_verdict,
    rejected_first,
    team_message,
)
from .comparing import matches, normalize
from .outcome import compile_diagnostics, error_text, text, verdict
from .scoring import DIGITS, score

__all__ = ["failed", "grade", "grading_size", "normalize", "skipped", "summarize"]


def grade(
    step: StepResult,
    test: TestCase,
    compare: Compare,
    request: ExecuteRequest,
    *,
    tolerance: float = DEFAULT_FLOAT_TOLERANCE,
    checker: Checked | None = None,
    validator: DefaultValidator | None = None,
) -> TestReport:
    """The report of one test from its run (and its checker's, with ``checker``)."""
    status = verdict(step, request.language)
    tool = checker.step if checker is not None else None
    kattis = checker is not None and checker.convention is Convention.KATTIS
    if checker is not None and checker.interactive and broke_off(step, tool):
        status = Status.OK
    error = error_text(step, status, request)
    if step.stderr_truncated and not step.output_exceeded:
        note = f"stderr was cut at {request.limits.output_limit} bytes"
        error = f"{error}\n{note}" if error else note
    checker_output = checker_text(tool) if checker is not None else ""
    result: Status
    score: float | None = None
    if checker is not None and checker.interactive and kattis and rejected_first(step, tool):
        # Kattis's order: a validator that rejected first decides, whatever followed.
        result = Status.WRONG_ANSWER
    elif status is not Status.OK:
        result = status
    elif checker is not None:
        decided = checker_verdict(tool, checker.convention, test.points, checker.passes)
        result, score = decided.status, decided.score
        if decided.reason:
            error = f"{error}\n{decided.reason}" if error else decided.reason
    elif test.expected is None or matches(
        step.stdout, test.expected, compare, tolerance, validator
    ):
        result = Status.ACCEPTED
    else:
        result = Status.WRONG_ANSWER
    passed = result is Status.ACCEPTED
    return TestReport(
        id=test.id,
        status=result,
        passed=passed,
        output=text(step.stdout),
        error=error,
        exit_code=step.exit_code,
        signal=step.signal_name,
        execution_time_ms=round(step.wall_ms, 3),
        memory_kb=step.memory_kb,
        truncated=step.truncated,
        cpu_time_ms=round(step.cpu_ms, 3),
        checker_output=checker_output,
        score=round(test.points if score is None else score, DIGITS) if passed else 0.0,
        team_message=team_message(tool) if kattis else "",
    )


def grading_size(step: StepResult, test: TestCase) -> int:
    """Bytes :func:`grade` reads in full (the checker's output is cut before it is read)."""
    return len(step.stdout) + len(step.stderr) + len(test.expected or b"")


def failed(test: TestCase, status: Status, reason: str) -> TestReport:
    return TestReport(id=test.id, status=status, passed=False, error=reason)


def skipped(test: TestCase) -> TestReport:
    return TestReport(id=test.id, status=Status.SKIPPED, passed=False)


def summarize(
    request: ExecuteRequest, reports: list[TestReport], compile_step: StepResult | None, total: int
) -> ProblemReply:
    """The request's reply: the first non-accepted verdict in test order decides its status."""
    passed = sum(1 for r in reports if r.passed)
    tests = request.problem.tests if request.problem else ()
    missing = Status.COMPILE_ERROR if compile_step and compile_step.failed else Status.SKIPPED
    rules = request.problem.groups if request.problem else ()
    scores = score(tests, reports, missing, rules)
    status = next(
        (
            r.status
            for r in reports
            if r.status is not Status.ACCEPTED and r.status is not Status.SKIPPED
        ),
        Status.ACCEPTED,
    )
    return ProblemReply(
        id=request.id,
        language=request.language.name,
        success=passed == total,
        status=status,
        compile_output=compile_diagnostics(compile_step) if compile_step else "",
        compile_time_ms=round(compile_step.wall_ms, 3) if compile_step else None,
        passed=passed,
        total=total,
        tests=reports,
        score=scores.score,
        max_score=scores.max_score,
        groups=msgspec.UNSET if scores.groups is None else scores.groups,
    )


def refusal_for_problem(request: ExecuteRequest, status: Status, reason: str) -> ProblemReply:
    tests = request.problem.tests if request.problem else ()
    rules = request.problem.groups if request.problem else ()
    scores = score(tests, [], status, rules)
    return ProblemReply(
        id=request.id,
        language=request.language.name,
        success=False,
        status=status,
        total=len(tests),
        error=reason,
        max_score=scores.max_score,
        groups=msgspec.UNSET if scores.groups is None else scores.groups,
    )
