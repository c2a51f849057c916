"""A checker's run to a verdict, the way testlib checkers report one.

Exit 0 is ``accepted``; 1 (wrong answer), 2 (presentation error), 4 and 8
(testlib's "dirt" and "unexpected EOF") are ``wrong_answer``; any other exit
code (3 is testlib's "fail"), a signal, or a limit the checker itself ran into
is ``checker_error``: the problem's fault, never the solution's.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from agent.protocol import StepResult
from wire import Status

from .outcome import text

SIGPIPE = int(signal.SIGPIPE)
WRONG_ANSWER_CODES = frozenset({1, 2, 4, 8})
# How much of what the checker printed (stderr, then stdout) a test's report shows.
CHECKER_OUTPUT_SHOWN = 4096


@dataclass(frozen=True, slots=True)
class Checked:
    """The checker's run after a test; ``step`` is None when it did not run."""

    step: StepResult | None
    interactive: bool = False  # an interactor's run, beside the solution's


def checker_verdict(step: StepResult | None) -> tuple[Status, str]:
    """The test's verdict from its checker's run, and why when the checker failed."""
    if step is None:
        return Status.CHECKER_ERROR, "checker_error: the checker did not run"
    if step.oom_killed:
        return Status.CHECKER_ERROR, "checker_error: the checker ran out of memory"
    if step.timed_out or step.cpu_exceeded:
        return Status.CHECKER_ERROR, "checker_error: the checker exceeded its time limit"
    if step.output_exceeded:
        return Status.CHECKER_ERROR, "checker_error: the checker printed too much"
    if step.signal is not None:
        return Status.CHECKER_ERROR, f"checker_error: the checker was killed by {step.signal_name}"
    if step.exit_code == 0:
        return Status.ACCEPTED, ""
    if step.exit_code in WRONG_ANSWER_CODES:
        return Status.WRONG_ANSWER, ""
    return Status.CHECKER_ERROR, f"checker_error: the checker exited with code {step.exit_code}"


def checker_text(step: StepResult | None) -> str:
    """What the checker printed, stderr first, cut to CHECKER_OUTPUT_SHOWN bytes."""
    if step is None:
        return ""
    # Cut before joining: a checker may print up to its output limit.
    shown = step.stderr[:CHECKER_OUTPUT_SHOWN]
    return text(shown + step.stdout[: CHECKER_OUTPUT_SHOWN - len(shown)])


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
