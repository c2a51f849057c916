"""An interactive run: the job and a problem's interactor, talking over two pipes.

The interactor's stdout is the job's stdin and the job's stdout the
interactor's stdin; the interactor gets the test's input and an output file as
arguments (testlib's ``interactor <input> <output>``). The two run as different
users (the job's and the tool user), so neither can signal, trace or read the
other; each has its own measures (exit status, CPU time, peak memory) and its
own stderr capture. The job's CPU time is the container's less the agent's and
the interactor's (every process of the tool user, its children included), so
the interactor's work is never charged to the job.

Both share the wall-clock limit: a deadlock (each waiting for the other) ends
there, and whichever is still running is marked timed out. When one side's
main process ends, what it left behind is killed (its user's processes only,
by pid from the agent, so a side that filled the process limit is no
obstacle) and the kernel's unix-socket collector is made to run, so that
neither a leftover process nor a pipe end parked in flight on a unix socket
(agent.leftovers) keeps a pipe open: the other side sees EOF. gVisor's kernel
has no such collector: there the agent relays the job's output to the
interactor (agent.relay) and closes the interactor's stdin itself.

The interactor's output stays writable after the job has ended: the agent
holds a read end of it and drains it from then on. A solution that stops
early is judged by what the interactor decides, never by the interactor dying
of a broken pipe (a checker error).
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

from agent import leftovers, memory, relay
from agent.cputime import CpuMeter, user_cpu_ms
from agent.errors import AgentFailure
from agent.jail import JOB_GID, JOB_UID, Jail, spawn, tool_ids
from agent.processes import KILL_SECONDS, kill_user, read_oom_kills, signal_everyone
from agent.protocol import Step, StepResult
from agent.step_runner import DRAIN_SECONDS, Capture, drain, read_chunk, spawn_failure

# The interactor's oom_score_adj: below the job's 1000, so that a job that
# fills the container's memory is the OOM killer's choice, not the interactor.
INTERACTOR_OOM_SCORE_ADJ = 500


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
    reaped_ms: float = 0.0  # CPU time of its user's processes the agent reaped

    def __post_init__(self) -> None:
        self.err = Capture(self.step.limits.output_bytes)

    @property
    def running(self) -> bool:
        return self.pid != 0 and self.status is None

    def cpu_ms(self) -> float:
        """CPU time of all its user's processes: reaped (exact), and live (clock ticks).

        Its children and their orphans included, which the agent reaps as PID 1:
        what an interactor's helper process uses is the interactor's, never the
        solution's.
        """
        return self.reaped_ms + user_cpu_ms(self.user[0])


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
        # With a relay, the job writes to a pipe of the agent's (agent.relay).
        from_job_r, from_job_w = os.pipe2(os.O_CLOEXEC) if relay.WANTED else (-1, to_tool_w)
        start = time.monotonic()
        procs: list[subprocess.Popen[bytes]] = []
        forwarder = None
        try:
            for side, stdin, stdout in (
                (self.tool, to_tool_r, to_job_w),
                (self.job, to_job_r, from_job_w),
            ):
                proc = self._spawn(side, stdin, stdout)
                if proc is not None:
                    procs.append(proc)
            # The agent keeps a read end of the interactor's output: once the job
            # has ended, it reads and drops what the interactor still writes.
            if from_job_r >= 0:
                forwarder = relay.Relay(from_job_r, to_tool_w)
                os.close(from_job_w)
                from_job_r = from_job_w = to_tool_w = -1
            for fd in (to_job_w, to_tool_r, to_tool_w):
                if fd >= 0:
                    os.close(fd)
            to_job_w = to_tool_r = to_tool_w = from_job_w = -1
            if procs:
                self._loop(procs, start, meter, to_job_r, forwarder)
        finally:
            for fd in {to_job_r, to_job_w, to_tool_r, to_tool_w, from_job_r, from_job_w} - {-1}:
                os.close(fd)
            if forwarder is not None:
                forwarder.release()
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
        try:
            proc = spawn(
                step.argv,
                Jail(step.limits.jail(), *side.user, side.oom_score_adj),
                cwd=side.cwd,
                env=step.env,
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            if exc.filename != step.argv[0]:
                raise
            side.spawn_error = spawn_failure(step, exc)
            return None
        side.pid = proc.pid
        return proc

    def _loop(
        self,
        procs: list[subprocess.Popen[bytes]],
        start: float,
        meter: CpuMeter,
        solution_input: int,
        forwarder: relay.Relay | None,
    ) -> None:
        """Run both to their end.

        ``solution_input``: the agent's read end of what the interactor writes to
        the job. Once the job has ended, the agent drains it: the interactor may
        go on writing (a solution that exits early may still be accepted, and a
        wrong one is judged wrong, never an interactor broken by its pipe).
        """
        deadline = start + min(self.job.step.limits.wall_ms, self.tool.step.limits.wall_ms) / 1000
        drain_until: float | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(self.wake_fd, selectors.EVENT_READ, None)
            for proc, side in zip(procs, self._spawned(), strict=True):
                assert proc.stderr is not None
                sel.register(proc.stderr, selectors.EVENT_READ, side)
            draining = False
            if forwarder is not None:
                forwarder.start(sel)
            while True:
                self._reap()
                now = time.monotonic()
                if forwarder is not None:
                    if not self.tool.running:
                        forwarder.tool_ended(sel)
                    elif not self.job.running:
                        forwarder.job_ended(sel)
                if not self.job.running and self.tool.running and not draining:
                    os.set_blocking(solution_input, False)
                    sel.register(solution_input, selectors.EVENT_READ, _DROP)
                    draining = True
                elif draining and not self.tool.running:
                    if solution_input in (key.fd for key in sel.get_map().values()):
                        sel.unregister(solution_input)
                    draining = False
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
                    elif key.data is _DROP:
                        _drop(sel, key.fd)
                    elif isinstance(key.data, relay.Relay):
                        key.data.ready(sel, key.fd)
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
            limit = side.step.limits.cpu_ms
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
        chunk = read_chunk(key.fd)
        if chunk is None:
            return
        if not chunk:
            sel.unregister(key.fileobj)
            return
        over = side.err.add(chunk)
        if over and side.step.stderr_soft:
            return  # cut and counted (stderr_truncated), not a reason to stop
        if over and not side.output_exceeded:
            side.output_exceeded = True
            if self.killed_at is None:
                self._kill_all(time.monotonic())

    def _reap(self) -> None:
        """Reap every exited child, its CPU time to the side whose user it ran as."""
        while True:
            try:
                # Looked at first, not reaped: the uid it ran as tells whose it is.
                found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if found is None:
                return
            pid, status, rusage = os.wait4(found.si_pid, 0)
            for side in (self.job, self.tool):
                if found.si_uid == side.user[0]:
                    side.reaped_ms += (rusage.ru_utime + rusage.ru_stime) * 1000
                if pid == side.pid:
                    side.status, side.rusage, side.ended = status, rusage, time.monotonic()
                    # Its leftovers must not hold the pipes open for the other side,
                    # neither as processes nor as descriptors parked in flight on
                    # unix sockets nobody holds (agent.leftovers).
                    kill_user(side.user[0])
                    leftovers.collect_garbage()

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
        limit = side.step.limits.cpu_ms
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


_DROP = object()  # the selector's mark of the interactor's output, drained after the job


def _drop(sel: selectors.BaseSelector, fd: int) -> None:
    """Read and drop what is in ``fd``; at EOF, stop watching it."""
    if read_chunk(fd) == b"":
        sel.unregister(fd)


def _oom_since(before: int | None) -> bool:
    after = read_oom_kills()
    return before is not None and after is not None and after > before
