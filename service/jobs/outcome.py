"""From what the agent measured to the reply a client reads.

The agent reports facts (exit status, signal, timed out, output exceeded, OOM kill,
times, peak memory); the verdict is decided here, in one pure function per step,
so it is easy to test and the same for every request kind.
"""

from __future__ import annotations

import codecs
import signal as signals

from agent.protocol import StepResult
from wire import Status
from wire.replies import Reply

from ..languages import Language
from ..requests import ExecuteRequest
from .offload import PIECE_BYTES

SIGXFSZ = int(signals.SIGXFSZ)


def verdict(step: StepResult, language: Language) -> Status:
    """The status of one run step of a ``language`` program.

    Every verdict rests on a fact, never on a guess from nearby numbers:
    ``memory_limit`` when the program ran out of memory, whoever noticed (the
    kernel's OOM killer, or the runtime itself: V8's heap limit, Go's runtime,
    Python's MemoryError, an uncaught std::bad_alloc, each runtime's heap being
    sized to the job's limit), or when it ran into its time limit while the
    kernel was holding it at the memory limit (near a cgroup's limit without
    swap the kernel may evict and re-read code pages for seconds instead of
    OOM-killing: the program crawls into its time limit); ``timeout`` only when
    a time limit was reached: the wall clock's, or the CPU time's as measured
    over all the run's processes (a signal alone is no limit).
    """
    if (
        step.oom_killed
        or language.memory.out_of_memory(step)
        or (step.timed_out and step.memory_limit_reached)
    ):
        return Status.MEMORY_LIMIT
    if step.timed_out or step.cpu_exceeded:
        return Status.TIMEOUT
    if step.output_exceeded:
        return Status.OUTPUT_LIMIT
    if step.exit_code == 0 and step.signal is None:
        return Status.OK
    return Status.RUNTIME_ERROR


def explain(step: StepResult, status: Status, request: ExecuteRequest) -> str:
    """A line appended to the job's stderr saying why it was stopped, when it was."""
    if status is Status.TIMEOUT:
        return time_limit_reason(request, cpu=step.cpu_exceeded and not step.timed_out)
    if status is Status.MEMORY_LIMIT:
        return memory_exceeded(request)
    if status is Status.OUTPUT_LIMIT:
        limit = request.limits.output_limit
        output_file = request.problem.output_file if request.problem else None
        if output_file is not None:
            return f"output limit exceeded: {output_file} holds more than {limit} bytes"
        return f"output limit exceeded ({limit} bytes per stream)"
    if step.signal == SIGXFSZ:
        return "file size limit exceeded"
    return ""


def memory_exceeded(request: ExecuteRequest) -> str:
    return f"memory limit exceeded ({request.limits.memory_mb} MB)"


def time_limit_reason(request: ExecuteRequest, *, cpu: bool = False) -> str:
    """Which of the two time limits stopped the program."""
    if cpu:
        return f"CPU time limit exceeded ({request.limits.cpu_time_limit_ms} ms)"
    return f"wall-clock limit exceeded ({request.limits.timeout_ms} ms)"


def text(data: bytes) -> str:
    """``data`` as UTF-8, invalid bytes replaced; a piece at a time (see service.jobs.offload)."""
    if len(data) <= PIECE_BYTES:
        return data.decode("utf-8", "replace")
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pieces = [
        decoder.decode(data[at : at + PIECE_BYTES]) for at in range(0, len(data), PIECE_BYTES)
    ]
    return "".join([*pieces, decoder.decode(b"", final=True)])


def error_text(step: StepResult, status: Status, request: ExecuteRequest) -> str:
    """The job's stderr, followed by why it was stopped when a limit stopped it."""
    error = text(step.stderr)
    reason = explain(step, status, request)
    if reason:
        return f"{error}\n{reason}" if error else reason
    return error


def compile_diagnostics(step: StepResult) -> str:
    """What the compiler said, and why it was stopped when a limit stopped it."""
    diagnostics = text(step.stderr) + text(step.stdout)
    if step.timed_out:
        diagnostics += "\ncompilation exceeded its time limit"
    elif step.oom_killed:
        diagnostics += "\ncompilation exceeded the memory limit"
    elif step.output_exceeded:
        diagnostics += "\ncompiler output exceeded its limit"
    return diagnostics.strip()


def compile_out_of_memory() -> StepResult:
    """The compile step of a sandbox the OOM killer took whole while it compiled."""
    return StepResult(
        exit_code=None,
        signal=None,
        stderr=b"the compiler took the sandbox over its memory limit",
        oom_killed=True,
    )


def did_not_parse(check: StepResult) -> bool:
    """A syntax check's own answer was no: a failure of its own, not a limit's."""
    stopped = check.timed_out or check.cpu_exceeded or check.oom_killed or check.output_exceeded
    return check.failed and not stopped


def compile_failure(request: ExecuteRequest, step: StepResult) -> Reply:
    diagnostics = compile_diagnostics(step)
    return Reply(
        id=request.id,
        language=request.language.name,
        success=False,
        status=Status.COMPILE_ERROR,
        error=diagnostics,
        exit_code=step.exit_code,
        signal=step.signal_name,
        compile_time_ms=round(step.wall_ms, 3),
        memory_kb=step.memory_kb,
        truncated=step.truncated,
    )


def run_reply(request: ExecuteRequest, run: StepResult, compile: StepResult | None) -> Reply:
    status = verdict(run, request.language)
    error = error_text(run, status, request)
    return Reply(
        id=request.id,
        language=request.language.name,
        success=status is Status.OK,
        status=status,
        output=text(run.stdout),
        error=error,
        exit_code=run.exit_code,
        signal=run.signal_name,
        execution_time_ms=round(run.wall_ms, 3),
        compile_time_ms=round(compile.wall_ms, 3) if compile else None,
        memory_kb=run.memory_kb,
        truncated=run.truncated,
        cpu_time_ms=round(run.cpu_ms, 3),
    )
