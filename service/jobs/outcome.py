"""From what the agent measured to the reply a client reads.

The agent reports facts (exit status, signal, timed out, output exceeded, OOM kill,
times, peak memory); the verdict is decided here, in one pure function per step,
so it is easy to test and the same for every request kind.
"""

from __future__ import annotations

import signal as signals

from agent.protocol import StepResult
from wire import Status
from wire.replies import Reply

from ..requests import ExecuteRequest

SIGXFSZ = int(signals.SIGXFSZ)
MEMORY_CEILING_SHARE = 0.9  # of the limit: a timed-out peak this high is memory_limit


def verdict(step: StepResult, memory_mb: int | None = None) -> Status:
    """The status of one run step (``memory_mb``: the memory limit it ran under)."""
    if step.oom_killed or _stalled_at_the_memory_ceiling(step, memory_mb):
        return Status.MEMORY_LIMIT
    if step.timed_out or step.cpu_exceeded:
        return Status.TIMEOUT
    if step.output_exceeded:
        return Status.OUTPUT_LIMIT
    if step.exit_code == 0 and step.signal is None:
        return Status.OK
    return Status.RUNTIME_ERROR


def _stalled_at_the_memory_ceiling(step: StepResult, memory_mb: int | None) -> bool:
    # Near a cgroup's limit without swap the kernel may evict and re-read code
    # pages for seconds instead of OOM-killing (seen with V8 and Go heaps): the
    # program crawls into its time limit. A program whose peak is at the ceiling
    # when the time runs out ran out of memory, not of time.
    if not (step.timed_out and memory_mb and step.memory_kb):
        return False
    return step.memory_kb >= memory_mb * 1024 * MEMORY_CEILING_SHARE


def explain(step: StepResult, status: Status, request: ExecuteRequest) -> str:
    """A line appended to the job's stderr saying why it was stopped, when it was."""
    if status is Status.TIMEOUT:
        return time_limit_reason(request, cpu=step.cpu_exceeded and not step.timed_out)
    if status is Status.MEMORY_LIMIT:
        return f"memory limit exceeded ({request.memory_mb} MB)"
    if status is Status.OUTPUT_LIMIT:
        return f"output limit exceeded ({request.output_limit} bytes per stream)"
    if step.signal == SIGXFSZ:
        return "file size limit exceeded"
    return ""


def time_limit_reason(request: ExecuteRequest, *, cpu: bool = False) -> str:
    """Which of the two time limits stopped the program."""
    if cpu:
        return f"CPU time limit exceeded ({request.cpu_time_limit_ms} ms)"
    return f"wall-clock limit exceeded ({request.timeout_ms} ms)"


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


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
    status = verdict(run, request.memory_mb)
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
