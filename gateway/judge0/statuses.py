"""Judge0's statuses, and how a code-engine reply maps onto them.

Judge0 CE has fourteen statuses and no memory-limit verdict. The mapping, from
the reply's ``status`` (and, for a run that ended badly, its signal or exit):

==================  ====================================================
code-engine         Judge0
==================  ====================================================
ok                  3 Accepted, or 4 Wrong Answer when ``expected_output``
                    was given and differs (compared as Judge0 does: each
                    line's trailing whitespace, then trailing blank lines,
                    ignored)
compile_error       6 Compilation Error
timeout             5 Time Limit Exceeded (wall clock or CPU time)
runtime_error       7 SIGSEGV, 8 SIGXFSZ, 9 SIGFPE, 10 SIGABRT by the
                    signal; 11 NZEC for a non-zero exit; 12 Other for any
                    other signal
memory_limit        12 Runtime Error (Other), message "Memory limit exceeded"
output_limit        8 Runtime Error (SIGXFSZ), message "Output limit exceeded"
internal_error      13 Internal Error
busy                13 Internal Error once retries ran out (a waiting
                    request gets HTTP 503 instead)
invalid_request     13 Internal Error with the engine's reason (a waiting
                    request gets HTTP 422 instead)
==================  ====================================================
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from wire import Status


@dataclass(frozen=True, slots=True)
class Judge0Status:
    id: int
    description: str


IN_QUEUE = Judge0Status(1, "In Queue")
PROCESSING = Judge0Status(2, "Processing")
ACCEPTED = Judge0Status(3, "Accepted")
WRONG_ANSWER = Judge0Status(4, "Wrong Answer")
TIME_LIMIT = Judge0Status(5, "Time Limit Exceeded")
COMPILATION_ERROR = Judge0Status(6, "Compilation Error")
SIGSEGV = Judge0Status(7, "Runtime Error (SIGSEGV)")
SIGXFSZ = Judge0Status(8, "Runtime Error (SIGXFSZ)")
SIGFPE = Judge0Status(9, "Runtime Error (SIGFPE)")
SIGABRT = Judge0Status(10, "Runtime Error (SIGABRT)")
NZEC = Judge0Status(11, "Runtime Error (NZEC)")
OTHER = Judge0Status(12, "Runtime Error (Other)")
INTERNAL_ERROR = Judge0Status(13, "Internal Error")
EXEC_FORMAT_ERROR = Judge0Status(14, "Exec Format Error")

STATUSES = (
    IN_QUEUE,
    PROCESSING,
    ACCEPTED,
    WRONG_ANSWER,
    TIME_LIMIT,
    COMPILATION_ERROR,
    SIGSEGV,
    SIGXFSZ,
    SIGFPE,
    SIGABRT,
    NZEC,
    OTHER,
    INTERNAL_ERROR,
    EXEC_FORMAT_ERROR,
)
BY_ID = {status.id: status for status in STATUSES}

_BY_SIGNAL = {"SIGSEGV": SIGSEGV, "SIGXFSZ": SIGXFSZ, "SIGFPE": SIGFPE, "SIGABRT": SIGABRT}
_BY_STATUS = {
    Status.COMPILE_ERROR: COMPILATION_ERROR,
    Status.TIMEOUT: TIME_LIMIT,
    Status.MEMORY_LIMIT: OTHER,
    Status.OUTPUT_LIMIT: SIGXFSZ,
    Status.INTERNAL_ERROR: INTERNAL_ERROR,
    Status.BUSY: INTERNAL_ERROR,
    Status.INVALID_REQUEST: INTERNAL_ERROR,
}
_MESSAGES = {
    Status.TIMEOUT: "Time limit exceeded",
    Status.MEMORY_LIMIT: "Memory limit exceeded",
    Status.OUTPUT_LIMIT: "Output limit exceeded",
}


def judge0_strip(text: str) -> str:
    """Text as Judge0 compares it: each line right-stripped, then the whole."""
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def verdict(
    status: Status,
    *,
    output: str = "",
    expected_output: str | None = None,
    exit_code: int | None = None,
    signal_name: str | None = None,
    error: str = "",
) -> tuple[Judge0Status, str | None]:
    """The Judge0 status of a reply, and Judge0's ``message`` for it (None when none)."""
    if status is Status.OK:
        if expected_output is None or judge0_strip(expected_output) == judge0_strip(output):
            return ACCEPTED, None
        return WRONG_ANSWER, None
    if status is Status.RUNTIME_ERROR:
        if signal_name:
            number = signal_number(signal_name)
            return _BY_SIGNAL.get(signal_name, OTHER), f"Caught fatal signal {number}"
        return NZEC, f"Exited with error status {exit_code}"
    found = _BY_STATUS.get(status, INTERNAL_ERROR)
    if found is INTERNAL_ERROR:
        return found, error.strip() or "the engine could not run the submission"
    return found, _MESSAGES.get(status)


def signal_number(name: str | None) -> int | None:
    if not name:
        return None
    try:
        return int(signal.Signals[name])
    except KeyError:
        return None
