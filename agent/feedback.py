"""A Kattis-convention validator's side of a check: its arguments and its feedback files.

The validator is called ``validator <input> <answer> <feedback_dir>/ [args]``
(its output or interaction on stdin), and may leave ``judgemessage.txt``,
``teammessage.txt``, ``score.txt`` or ``score_multiplier.txt`` in the feedback
directory. The directory is the tool user's: the files are read back without
following a symlink, only if regular, and cut to FEEDBACK_LIMIT bytes.
"""

from __future__ import annotations

import os
from dataclasses import replace

from agent.files import read_file
from agent.layout import CHECK_DIR
from agent.protocol import FEEDBACK_FILES, FEEDBACK_LIMIT, Check, StepResult

FEEDBACK_DIR = f"{CHECK_DIR}/feedback"


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
