"""Every outcome a reply can carry, in one enum.

Compiler replies use the run statuses; problems replies (and each test in them)
use the test verdicts where a compiler reply would say ``ok``. One definition,
so a status means the same on both subjects.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """How a request, a run or a test ended: every outcome a reply can carry."""

    # The comment beside each member is its meaning in the generated reference
    # (docs/reference/statuses.md); the one above a group names the group.

    # How a program run ended (compiler replies; a test's verdict when it did not pass).
    OK = "ok"  # the program exited 0
    COMPILE_ERROR = "compile_error"  # the source did not compile or parse; diagnostics in the reply
    RUNTIME_ERROR = "runtime_error"  # a non-zero exit or a signal
    TIMEOUT = "timeout"  # the wall-clock or the CPU time limit was reached
    MEMORY_LIMIT = "memory_limit"  # the program ran out of memory, whoever noticed
    OUTPUT_LIMIT = "output_limit"  # stdout or stderr went past the output limit
    # The request never ran.
    INVALID_REQUEST = "invalid_request"  # the request breaks the protocol; error says how
    BUSY = "busy"  # the queue is full or Docker is down: retry later
    INTERNAL_ERROR = "internal_error"  # the engine failed (a container lost mid-job, shutdown)
    # Problems mode: a test's verdict after comparing its output.
    ACCEPTED = "accepted"  # the output matched, or the checker or interactor said so
    WRONG_ANSWER = "wrong_answer"  # it did not
    SKIPPED = "skipped"  # not run: an earlier failure stopped the request or the group
    # The problem's own checker failed (never blamed on the solution).
    CHECKER_ERROR = "checker_error"  # the checker or interactor failed, or did not compile


# Statuses a compiler reply can have; a problems reply has the others but OK.
COMPILER_STATUSES = frozenset(Status) - {
    Status.ACCEPTED,
    Status.WRONG_ANSWER,
    Status.SKIPPED,
    Status.CHECKER_ERROR,
}
PROBLEMS_STATUSES = frozenset(Status) - {Status.OK}
