"""Every outcome a reply can carry, in one enum.

Compiler replies use the run statuses; problems replies (and each test in them)
use the test verdicts where a compiler reply would say ``ok``. One definition,
so a status means the same on both subjects.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    # How a program run ended (compiler replies; a test's verdict when it did not pass).
    OK = "ok"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    # The request never ran.
    INVALID_REQUEST = "invalid_request"
    BUSY = "busy"
    INTERNAL_ERROR = "internal_error"
    # Problems mode: a test's verdict after comparing its output.
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    SKIPPED = "skipped"
    # The problem's own checker failed (never blamed on the solution).
    CHECKER_ERROR = "checker_error"


# Statuses a compiler reply can have; a problems reply has the others but OK.
COMPILER_STATUSES = frozenset(Status) - {
    Status.ACCEPTED,
    Status.WRONG_ANSWER,
    Status.SKIPPED,
    Status.CHECKER_ERROR,
}
PROBLEMS_STATUSES = frozenset(Status) - {Status.OK}
