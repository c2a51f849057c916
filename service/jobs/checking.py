"""A checker's run to a verdict and a score, the way testlib or Kattis validators report.

testlib: exit 0 is ``accepted``; 1 (wrong answer), 2 (presentation error), 4
and 8 (testlib's "dirt" and "unexpected EOF") are ``wrong_answer``; 7 is
``quitp``'s partial score: ``accepted`` with the points its message gives
("points X"). Kattis: exit 42 is ``accepted`` (scored by ``score.txt`` or
``score_multiplier.txt`` in its feedback directory when it wrote one), 43
``wrong_answer``. Any other exit code (3 is testlib's "fail", 0 under Kattis),
a signal, a limit the checker itself ran into, or a score it should not have
given is ``checker_error``: the problem's fault, never the solution's.
"""

from __future__ import annotations

import math
import re
import signal
from dataclasses import dataclass

from agent.protocol import StepResult
from wire import Status

from ..requests.request import Convention
from .outcome import text

SIGPIPE = int(signal.SIGPIPE)
WRONG_ANSWER_CODES = frozenset({1, 2, 4, 8})
TESTLIB_POINTS = 7
KATTIS_ACCEPTED, KATTIS_REJECTED = 42, 43
# How much of what the checker printed (stderr, then stdout) a test's report shows.
CHECKER_OUTPUT_SHOWN = 4096
_POINTS = re.compile(rb"points\s+(\S+)")


@dataclass(frozen=True, slots=True)
class Checked:
    """The checker's run after a test; ``step`` is None when it did not run."""

    step: StepResult | None
    interactive: bool = False  # an interactor's run, beside the solution's
    convention: Convention = Convention.TESTLIB
    passes: int = 1  # kattis multi-pass: the most runs per test


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checker decided: the status, why it failed, and the score it gave.

    ``score`` is None when the checker gave none (an accepted test scores its points).
    """

    status: Status
    reason: str = ""
    score: float | None = None


def checker_verdict(
    step: StepResult | None,
    convention: Convention = Convention.TESTLIB,
    points: float = 1.0,
    passes: int = 1,
) -> Verdict:
    """The test's verdict from its checker's run (``points``: the most it may give;
    ``passes``: a multi-pass problem's most runs)."""
    if step is None:
        return _error("the checker did not run")
    if step.oom_killed:
        return _error("the checker ran out of memory")
    if step.timed_out or step.cpu_exceeded:
        return _error("the checker exceeded its time limit")
    if step.output_exceeded:
        return _error("the checker printed too much")
    if step.signal is not None:
        return _error(f"the checker was killed by {step.signal_name}")
    if convention is Convention.KATTIS:
        if passes > 1 and "nextpass.in" in step.feedback:
            if step.exit_code == KATTIS_ACCEPTED:
                return _error(f"the validator asked for a pass beyond the {passes} allowed")
            return _error("the validator wrote nextpass.in without accepting")
        return _kattis(step, points)
    if step.exit_code == 0:
        return Verdict(Status.ACCEPTED)
    if step.exit_code in WRONG_ANSWER_CODES:
        return Verdict(Status.WRONG_ANSWER)
    if step.exit_code == TESTLIB_POINTS:
        found = _POINTS.search(step.stderr) or _POINTS.search(step.stdout)
        if found is None:
            return _error("the checker exited with code 7 without 'points X' in its message")
        return _scored(found[1], points, "its points")
    return _error(f"the checker exited with code {step.exit_code}")


def _kattis(step: StepResult, points: float) -> Verdict:
    score, multiplier = step.feedback.get("score.txt"), step.feedback.get("score_multiplier.txt")
    if step.exit_code == KATTIS_REJECTED:
        if score is not None or multiplier is not None:
            return _error("the validator rejected the output but wrote a score")
        return Verdict(Status.WRONG_ANSWER)
    if step.exit_code != KATTIS_ACCEPTED:
        return _error(f"the validator exited with code {step.exit_code} (not 42 or 43)")
    if score is not None and multiplier is not None:
        return _error("the validator wrote both score.txt and score_multiplier.txt")
    if score is not None:
        return _scored(score, points, "score.txt")
    if multiplier is not None:
        verdict = _scored(multiplier, 1.0, "score_multiplier.txt")
        if verdict.score is not None:
            return Verdict(Status.ACCEPTED, score=verdict.score * points)
        return verdict
    return Verdict(Status.ACCEPTED)


def _scored(raw: bytes, most: float, what: str) -> Verdict:
    try:
        value = float(raw.strip().decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return _error(f"{what} is not a number: {text(raw[:40])!r}")
    if not (math.isfinite(value) and 0 <= value <= most):
        return _error(f"{what} gives {value}, outside 0 to {most}")
    return Verdict(Status.ACCEPTED, score=value)


def _error(reason: str) -> Verdict:
    return Verdict(Status.CHECKER_ERROR, f"checker_error: {reason}")


def checker_text(step: StepResult | None) -> str:
    """What the checker printed, cut to CHECKER_OUTPUT_SHOWN bytes.

    A Kattis validator's judgemessage.txt first, then stderr, then stdout.
    """
    if step is None:
        return ""
    # Cut before joining: a checker may print up to its output limit.
    shown = step.feedback.get("judgemessage.txt", b"")[:CHECKER_OUTPUT_SHOWN]
    shown += step.stderr[: CHECKER_OUTPUT_SHOWN - len(shown)]
    return text(shown + step.stdout[: CHECKER_OUTPUT_SHOWN - len(shown)])


def team_message(step: StepResult | None) -> str:
    """A Kattis validator's teammessage.txt, for the solution's author."""
    return text(step.feedback.get("teammessage.txt", b"")) if step is not None else ""


def broke_off(solution: StepResult, interactor: StepResult | None) -> bool:
    """The solution died of a broken pipe the interactor broke: not its fault.

    A SIGPIPE on its output means the interactor, the one reader of that pipe,
    had stopped reading (closed it, or exited): the interactor's verdict decides.
    The order in which the agent reaped the two says nothing: under gVisor the
    solution's death was seen first while the interactor was still exiting.
    """
    return (
        interactor is not None
        and solution.signal == SIGPIPE
        and not (solution.timed_out or solution.cpu_exceeded or solution.oom_killed)
    )


def rejected_first(solution: StepResult, interactor: StepResult | None) -> bool:
    """A Kattis interactor rejected (exit 43) before the solution ended.

    Kattis and DOMjudge judge that ``wrong_answer``, whatever the solution did next
    (ran on to its time limit, crashed on the closed pipe).
    """
    return (
        interactor is not None
        and interactor.exit_code == KATTIS_REJECTED
        and interactor.signal is None
        and not (interactor.timed_out or interactor.cpu_exceeded or interactor.oom_killed)
        and interactor.wall_ms <= solution.wall_ms
    )
