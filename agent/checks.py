"""A problem's tool checking a run: testlib's way or Kattis's, and Kattis's passes.

testlib: ``checker <input> <output> <answer>``. Kattis: ``validator <input>
<answer> <feedback_dir>/ [args] < output``; the validator may leave
``judgemessage.txt``, ``teammessage.txt``, ``score.txt`` or
``score_multiplier.txt`` (and, asking for another pass of a multi-pass
problem, ``nextpass.in``) in the feedback directory, which is the tool
user's: the files are read back without following a symlink, only if
regular, and cut to FEEDBACK_LIMIT bytes.

A multi-pass check (``passes`` > 1) runs the job again on ``nextpass.in``
while the validator accepts and leaves one, up to ``passes`` runs in all; the
feedback directory persists between passes, the job's processes and files do
not. The result is the last pass's run, with the longest time and the largest
memory of all of them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.files import make_job_dir, read_file, remove_entries, write_files
from agent.jail import tool_ids
from agent.layout import CHECK_DIR, RUN_DIR
from agent.protocol import FEEDBACK_FILES, FEEDBACK_LIMIT, KATTIS, Check, Step, StepResult
from agent.step_runner import StepRunner

if TYPE_CHECKING:
    from agent.jobs import Agent

FEEDBACK_DIR = f"{CHECK_DIR}/feedback"
# A check's files, in the order the tool gets them (testlib's convention).
CHECK_FILES = ("input", "output", "answer")
NEXT_PASS = "nextpass.in"
KATTIS_ACCEPTED = 42
MAX_PASS_INPUT = 4 << 20  # a pass's input, as large as a problems request's stdin


def kattis_args(check: Check) -> list[str]:
    """What follows the validator's command: input, answer, feedback directory, its args."""
    return [f"{CHECK_DIR}/input", f"{CHECK_DIR}/answer", f"{FEEDBACK_DIR}/", *check.args]


def with_feedback(result: StepResult) -> StepResult:
    """``result`` with the feedback files the validator left (an empty one counts)."""
    feedback = {}
    for name in FEEDBACK_FILES:
        data, _ = read_file(FEEDBACK_DIR, name, FEEDBACK_LIMIT)
        if data or _exists(name):
            feedback[name] = data
    return replace(result, feedback=feedback)


def _exists(name: str) -> bool:
    try:
        os.stat(os.path.join(FEEDBACK_DIR, name), follow_symlinks=False)
    except OSError:
        return False
    return True


def run_check(
    check: Check, stdin: bytes, run: StepResult, wake_fd: int, *, fresh: bool = True
) -> StepResult:
    """Run the tool on a run's input, output and answer, as the tool user.

    ``fresh=False`` (a later pass) keeps the feedback directory as it was.
    """
    if fresh:
        make_job_dir(CHECK_DIR, tool_ids())
    else:
        remove_entries(CHECK_DIR, list(CHECK_FILES))
    contents = (stdin, run.stdout, check.answer)
    write_files(CHECK_DIR, dict(zip(CHECK_FILES, contents, strict=True)), tool_ids())
    step = replace(check.step, argv=list(check.step.argv))
    if check.convention == KATTIS:
        if fresh:
            make_job_dir(FEEDBACK_DIR, tool_ids())
        step.argv += kattis_args(check)
        step.stdin = run.stdout
        return with_feedback(StepRunner(step, CHECK_DIR, wake_fd, tool_ids()).run())
    step.argv += [f"{CHECK_DIR}/{name}" for name in CHECK_FILES]
    return StepRunner(step, CHECK_DIR, wake_fd, tool_ids()).run()


def more_passes(
    jobs: Agent, step: Step, check: Check, stdin: bytes, run: StepResult, checked: StepResult
) -> tuple[StepResult, StepResult]:
    """The passes after the first, while the validator accepts and asks for one.

    Raises:
        AgentFailure: a job process outlived its pass (the answer is then DIRTY).
    """
    runs = [run]
    for _ in range(check.passes - 1):
        if checked.exit_code != KATTIS_ACCEPTED or NEXT_PASS not in checked.feedback:
            break
        data, too_large = read_file(FEEDBACK_DIR, NEXT_PASS, MAX_PASS_INPUT)
        if too_large:
            break  # left in place: the host judges a checker error
        remove_entries(FEEDBACK_DIR, [NEXT_PASS])
        jobs.cleanup(keep_build=True, refill=False, keep_check=True)
        jobs.alone("a pass")
        make_job_dir(RUN_DIR)
        runs.append(StepRunner(replace(step, stdin=data), RUN_DIR, jobs.wake_fd).run())
        del data
        if not jobs.cleanup(keep_build=True, refill=False, keep_check=True):
            jobs.alone("the check of a pass")  # raises: something survived
        if runs[-1].failed:
            checked = replace(checked, feedback={})  # the run's own verdict decides
            break
        checked = run_check(check, stdin, runs[-1], jobs.wake_fd, fresh=False)
    last = runs[-1]
    return replace(
        last,
        wall_ms=max(r.wall_ms for r in runs),
        cpu_ms=max(r.cpu_ms for r in runs),
        memory_kb=max((r.memory_kb or 0 for r in runs), default=0) or last.memory_kb,
    ), checked
