"""An interactive run: the job and a problem's interactor, talking over two pipes.

The interactor's stdout is the job's stdin and the job's stdout the
interactor's stdin; the interactor gets the test's input and an output file as
arguments (testlib's ``interactor <input> <output>``). The two run as different
users (the job's and the tool user), so neither can signal, trace or read the
other; each has its own measures (exit status, CPU time, peak memory) and its
own stderr capture. The job's CPU time is the container's less the agent's and
the interactor's, so the interactor's work is never charged to the job.

Both share the wall-clock limit: a deadlock (each waiting for the other) ends
there, and whichever is still running is marked timed out. When one side's
main process ends, what it left behind is killed (its user's processes only),
so no leftover keeps a pipe open and the other side sees EOF.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

from agent import memory
from agent.cputime import CpuMeter
from agent.errors import AgentFailure
from agent.jail import JOB_GID, JOB_UID, enter_job, tool_ids
from agent.processes import KILL_SECONDS, read_oom_kills, signal_everyone
from agent.protocol import Step, StepResult
from agent.steps import DRAIN_SECONDS, READ_CHUNK, Capture, drain, spawn_failure
from agent.warm import cpu_seconds

# The interactor's oom_score_adj: below the job's 1000, so that a job that
# fills the container's memory is the OOM killer's choice, not the interactor.
INTERACTOR_OOM_SCORE_ADJ = 500
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class _Side:
    """One of the two programs: how it was started and what was measured."""

    step: Step
    user: tuple[int, int]
    cwd: str
    oom_score_adj: int
    err: Capture = field(init=False)
    pid: int = 0
    status: int | None = None
    rusage: resource.struct_rusage | None = None
    ended: float = 0.0
    timed_out: bool = False
    cpu_exceeded: bool = False
    output_exceeded: bool = False
    memory_exceeded: bool = False  # the guest reached the memory watch level
    spawn_error: StepResult | None = None

    def __post_init__(self) -> None:
        self.err = Capture(self.step.output_limit)

    @property
    def running(self) -> bool:
        return self.pid != 0 and self.status is None

    def cpu_ms(self) -> float:
        """Its CPU time: exact once reaped, from /proc (clock ticks) while it runs."""
        usage = self.rusage
        if usage is not None:
            return (usage.ru_utime + usage.ru_stime) * 1000
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) * 1000 / _TICKS
        except (OSError, IndexError, ValueError):
            return 0.0


def kill_user(uid: int, gid: int) -> None:
    """SIGKILL every process of ``uid``: from a child that becomes that user.

    ``kill(-1)`` as an unprivileged user reaches exactly that user's processes
    (the agent, PID 1 and root, is out of its reach).
    """
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


class Interaction:
    """Runs a job step and an interactor step against each other to completion."""

    def __init__(
        self,
        job: Step,
        interactor: Step,
        *,
        run_dir: str,
        tool_dir: str,
        wake_fd: int,
    ) -> None:
        self.job = _Side(job, (JOB_UID, JOB_GID), run_dir, 1000)
        self.tool = _Side(interactor, tool_ids(), tool_dir, INTERACTOR_OOM_SCORE_ADJ)
        self.wake_fd = wake_fd
        self.killed_at: float | None = None

    def run(self) -> tuple[StepResult, StepResult]:
        """Both results (the job's without stdout: that went to the interactor).

        Raises:
            AgentFailure: a process does not die after SIGKILL.
            OSError: the agent could not spawn a step.
        """
        drain(self.wake_fd)
        oom_before = read_oom_kills()
        meter = CpuMeter()
        to_job_r, to_job_w = os.pipe2(os.O_CLOEXEC)
        to_tool_r, to_tool_w = os.pipe2(os.O_CLOEXEC)
        start = time.monotonic()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for side, stdin, stdout in (
                (self.tool, to_tool_r, to_job_w),
                (self.job, to_job_r, to_tool_w),
            ):
                proc = self._spawn(side, stdin, stdout)
                if proc is not None:
                    procs.append(proc)
            for fd in (to_job_r, to_job_w, to_tool_r, to_tool_w):
                os.close(fd)
            to_job_r = to_job_w = to_tool_r = to_tool_w = -1
            if procs:
                self._loop(procs, start, meter)
        finally:
            for fd in (to_job_r, to_job_w, to_tool_r, to_tool_w):
                if fd >= 0:
                    os.close(fd)
            for proc in procs:
                if proc.stderr is not None:
                    proc.stderr.close()
                proc.returncode = -1  # the agent reaped it
            job_cpu = meter.used_ms()
            meter.close()
        oom = _oom_since(oom_before)
        tool_cpu = self.tool.cpu_ms()
        job_cpu = self.job.cpu_ms() if job_cpu is None else max(0.0, job_cpu - tool_cpu)
        return (
            self._result(self.job, start, job_cpu, oom),
            self._result(self.tool, start, tool_cpu, oom),
        )

    def _spawn(self, side: _Side, stdin: int, stdout: int) -> subprocess.Popen[bytes] | None:
        step = side.step
        limit = cpu_seconds(step)
        try:
            proc = subprocess.Popen(
                step.argv,
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=side.cwd,
                env=step.env,
                close_fds=True,
                start_new_session=True,
                preexec_fn=lambda: enter_job(
                    limit, step.file_size_limit, *side.user, side.oom_score_adj
                ),
            )
        except OSError as exc:
            if exc.filename != step.argv[0]:
                raise
            side.spawn_error = spawn_failure(step, exc)
            return None
        side.pid = proc.pid
        return proc

    def _loop(self, procs: list[subprocess.Popen[bytes]], start: float, meter: CpuMeter) -> None:
        deadline = start + min(self.job.step.timeout_ms, self.tool.step.timeout_ms) / 1000
        drain_until: float | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(self.wake_fd, selectors.EVENT_READ, None)
            for proc, side in zip(procs, self._spawned(), strict=True):
                assert proc.stderr is not None
                sel.register(proc.stderr, selectors.EVENT_READ, side)
            while True:
                self._reap()
                now = time.monotonic()
                if not (self.job.running or self.tool.running):
                    drain_until = drain_until or now + DRAIN_SECONDS
                    if len(sel.get_map()) <= 1 or now >= drain_until:
                        return
                    wait = drain_until - now
                else:
                    wait = self._enforce(now, deadline, meter)
                for key, _ in sel.select(wait):
                    if key.data is None:
                        drain(self.wake_fd)
                    else:
                        self._read(sel, key)

    def _spawned(self) -> list[_Side]:
        return [side for side in (self.tool, self.job) if side.pid]

    def _enforce(self, now: float, deadline: float, meter: CpuMeter) -> float:
        """Stop what went past a limit; how long select() may sleep."""
        if self.killed_at is not None:
            if now - self.killed_at > KILL_SECONDS:
                raise AgentFailure("a process of an interactive run does not die")
            return 0.05
        if now >= deadline:
            for side in (self.job, self.tool):
                side.timed_out = side.running
            return self._kill_all(now)
        if memory.over_watch_level():
            # The job is the one to go, as its oom_score_adj makes it the OOM killer's.
            self.job.memory_exceeded = True
            return self._kill_all(now)
        tool_cpu = self.tool.cpu_ms()
        used = meter.used_ms()
        job_cpu = None if used is None else used - tool_cpu
        for side, cpu in ((self.tool, tool_cpu), (self.job, job_cpu)):
            limit = side.step.cpu_time_limit_ms
            if side.running and limit is not None and cpu is not None and cpu > limit:
                side.cpu_exceeded = True
                return self._kill_all(now)
        return min(deadline - now, 0.01)

    def _kill_all(self, now: float) -> float:
        self.killed_at = now
        signal_everyone()
        return 0.0

    def _read(self, sel: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        side: _Side = key.data
        try:
            chunk = os.read(key.fd, READ_CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            sel.unregister(key.fileobj)
            return
        if side.err.add(chunk) and not side.output_exceeded:
            side.output_exceeded = True
            if self.killed_at is None:
                self._kill_all(time.monotonic())

    def _reap(self) -> None:
        while True:
            try:
                pid, status, rusage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for side in (self.job, self.tool):
                if pid == side.pid:
                    side.status, side.rusage, side.ended = status, rusage, time.monotonic()
                    # Its leftovers must not hold the pipes open for the other side.
                    kill_user(*side.user)

    def _result(self, side: _Side, start: float, cpu_ms: float, oom: bool) -> StepResult:
        if side.spawn_error is not None:
            return side.spawn_error
        status = side.status if side.status is not None else 0
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        # The OOM killer's SIGKILL, not the agent's: the side it took.
        oom_killed = side.memory_exceeded or (
            oom and signum == signal.SIGKILL and self.killed_at is None
        )
        limit = side.step.cpu_time_limit_ms
        usage = side.rusage
        return StepResult(
            exit_code=exit_code,
            signal=signum,
            stderr=bytes(side.err.data),
            stderr_truncated=side.err.total > side.err.limit,
            timed_out=side.timed_out,
            cpu_exceeded=side.cpu_exceeded
            or signum == signal.SIGXCPU
            or (limit is not None and cpu_ms > limit),
            output_exceeded=side.output_exceeded,
            oom_killed=oom_killed,
            wall_ms=round(((side.ended or time.monotonic()) - start) * 1000, 3),
            cpu_ms=round(cpu_ms, 3),
            memory_kb=usage.ru_maxrss if usage is not None else None,
        )


def _oom_since(before: int | None) -> bool:
    after = read_oom_kills()
    return before is not None and after is not None and after > before
