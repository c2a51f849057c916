"""Running one step: spawning it in its jail, pumping its pipes, measuring it.

A step is one program (a compile or a run) run to completion by a
single-threaded selector loop: stdin fed from the request, stdout and stderr
captured up to the output limit, the wall-clock deadline and the CPU time limit
of all the step's processes enforced by the agent (:mod:`agent.cputime`; the
kernel's RLIMIT_CPU per process is the backstop). What comes back is facts (exit status, signal,
times, peak memory), never a verdict.

memory_kb is the job's ru_maxrss. Linux counts in it the resident size of the
forked agent at exec time, so it never reads below about 12 MB; that is why the
agent keeps itself small (see :mod:`agent.loop`; the image ships it compiled)
and drops each request's raw data before it forks.
"""

from __future__ import annotations

import fcntl
import os
import resource
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO

from agent import memory
from agent.cputime import CpuMeter
from agent.errors import AgentFailure
from agent.file_io import place_input, take_output
from agent.jail import JOB_GID, JOB_UID, Jail, spawn
from agent.processes import KILL_SECONDS, read_limit_hits, read_oom_kills, signal_everyone
from agent.protocol import Step, StepResult
from agent.warm import READY_WAIT_S, JobProcess, WarmProcess

READ_CHUNK = 64 * 1024
# After the main process exits, how long leftover output may take to arrive.
DRAIN_SECONDS = 0.5
PIPE_MAX = 1 << 20  # /proc/sys/fs/pipe-max-size for a process without CAP_SYS_RESOURCE
# How far CPU time as measured here may trail the kernel's own at an RLIMIT_CPU signal.
CPU_ACCOUNTING_SLACK_MS = 50
# How often the CPU time of a step with a CPU limit is read, at most and at least:
# at most the time its remaining budget takes on every core, so it overshoots by
# a few milliseconds; the floor bounds what the checks cost.
CPU_POLL_MIN_S = 0.004
CPU_POLL_MAX_S = 0.25
CORES = os.cpu_count() or 1


@dataclass
class Capture:
    """One output stream, kept up to its limit and counted beyond it."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> bool:
        """Keep what fits under the limit; True once the stream went over it."""
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.total += len(chunk)
        return self.total > self.limit


def spawn_failure(step: Step, exc: OSError) -> StepResult:
    """The result of a program that could not be executed, shaped like a shell's."""
    message = f"cannot execute {step.argv[0]}: {exc.strerror}\n".encode()
    return StepResult(
        exit_code=127 if isinstance(exc, FileNotFoundError) else 126,
        signal=None,
        stderr=message,
    )


class StepRunner:
    """Runs one step to completion with a single-threaded selector loop.

    The agent's SIGCHLD wakeup pipe (``wake_fd``) ends the select() as soon as
    any child exits, so the main process is reaped without polling.
    """

    def __init__(
        self,
        step: Step,
        cwd: str,
        wake_fd: int,
        user: tuple[int, int] = (JOB_UID, JOB_GID),
        warm: WarmProcess | None = None,
    ) -> None:
        self.step = step
        # An interpreter already started for this step (agent.warm): told to run, not spawned.
        self.warm = warm
        self.user = user
        self.cwd = cwd
        self.wake_fd = wake_fd
        self.cpu_limit_ms = step.limits.cpu_ms
        self.jail_limits = step.limits.jail()
        self.cpu_exceeded = False
        # The guest reached the agent's memory watch level (agent.memory, gVisor).
        self.memory_exceeded = False
        self.meter: CpuMeter | None = None
        # A file task's output is its output file (agent.file_io): its stdout is
        # drained and counted, kept nowhere and no reason to stop it.
        self.stdout_dropped = step.output_file is not None
        self.out = Capture(0 if self.stdout_dropped else step.limits.output_bytes)
        self.err = Capture(step.limits.output_bytes)
        self.status: int | None = None
        self.rusage: resource.struct_rusage | None = None
        self.timed_out = False
        self.output_exceeded = False
        self.killed_at: float | None = None
        # A file task's input is in its input file: its stdin is empty.
        self.stdin_left = memoryview(b"" if step.input_file is not None else step.stdin)
        self.ended = 0.0
        self.drain_until = 0.0
        self.pid = 0

    def run(self) -> StepResult:
        """Run the step and measure it.

        Raises:
            AgentFailure: a job process does not die after SIGKILL.
            BadRequest: a file task's input file cannot be written.
            OSError: the agent could not spawn the step (a program that cannot
                be executed is a result, exit code 126 or 127, not an error).
        """
        place_input(self.step, self.cwd, self.user)
        if self.warm is not None and not self.warm.wait_ready(READY_WAIT_S):
            self.warm = None
        drain(self.wake_fd)
        oom_before = read_oom_kills()
        limit_hits_before = read_limit_hits()
        self.meter = CpuMeter()
        try:
            result = self._run(oom_before, limit_hits_before)
        finally:
            self.meter.close()
        return take_output(self.step, self.cwd, result)

    def _run(self, oom_before: int | None, limit_hits_before: int | None) -> StepResult:
        start = time.monotonic()
        if self.warm is not None and self.warm.start(self.step):
            proc: JobProcess = self.warm.proc
        else:
            spawned = self._spawn()
            if isinstance(spawned, StepResult):
                return spawned
            proc = spawned
        self.pid = proc.pid
        _widen_pipes(proc, self.step.limits.output_bytes)
        try:
            ended = self._loop(proc, start)
        finally:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    _close_quietly(pipe)
            # Popen must never reap a recycled pid later; the agent reaped it.
            proc.returncode = self.status if self.status is not None else -1
        return self._result(start, ended, oom_before, limit_hits_before)

    def _spawn(self) -> subprocess.Popen[bytes] | StepResult:
        """The step's process, or the result of a program that cannot be executed."""
        try:
            return spawn(
                self.step.argv,
                Jail(self.jail_limits, *self.user),
                cwd=self.cwd,
                env=self.step.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            # Popen names argv[0] when exec failed; anything else is the agent's failure.
            if exc.filename != self.step.argv[0]:
                raise
            return spawn_failure(self.step, exc)

    def _loop(self, proc: JobProcess, start: float) -> float:
        """Pump the pipes until the main process is gone and its output drained.

        Returns the moment the main process was reaped.
        """
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
        assert stdin is not None and stdout is not None and stderr is not None
        deadline = start + self.step.limits.wall_ms / 1000
        with selectors.DefaultSelector() as sel:
            sel.register(self.wake_fd, selectors.EVENT_READ, "wake")
            sel.register(stdout, selectors.EVENT_READ, self.out)
            sel.register(stderr, selectors.EVENT_READ, self.err)
            if self.stdin_left:
                os.set_blocking(stdin.fileno(), False)
                sel.register(stdin, selectors.EVENT_WRITE, "stdin")
            else:
                _close_quietly(stdin)
            while True:
                wait = self._next_wait(sel, deadline)
                if wait is None:
                    return self.ended
                for key, _ in sel.select(wait):
                    if key.data == "wake":
                        drain(self.wake_fd)
                    elif key.data == "stdin":
                        self._feed(sel, stdin)
                    else:
                        self._read(sel, key)
                if self.status is None and self._reap():
                    self._main_exited(sel, stdin)

    def _next_wait(self, sel: selectors.BaseSelector, deadline: float) -> float | None:
        """Enforce the deadlines; how long select() may sleep, or None when done."""
        now = time.monotonic()
        if self.status is not None:
            # Only the wakeup pipe left registered means every pipe reached EOF.
            if len(sel.get_map()) <= 1 or now >= self.drain_until:
                return None
            return self.drain_until - now
        if self.killed_at is None:
            wait = self._cpu_check()
            if memory.WATCH_LEVEL is not None:
                self.memory_exceeded = memory.over_watch_level()
                wait = min(wait, memory.WATCH_INTERVAL_S)
            if self.cpu_exceeded or self.memory_exceeded:
                self._kill(now)
            elif now < deadline:
                return min(deadline - now, 1.0, wait)
            else:
                self.timed_out = True
                self._kill(now)
        assert self.killed_at is not None
        if now - self.killed_at > KILL_SECONDS:
            raise AgentFailure(f"job process {self.pid} does not die")
        return 0.05

    def _cpu_check(self) -> float:
        """Mark the step over its CPU limit when it is; how long until the next check."""
        if self.cpu_limit_ms is None or self.meter is None:
            return CPU_POLL_MAX_S
        used = self.meter.used_ms()
        if used is None:
            return CPU_POLL_MAX_S
        left_ms = self.cpu_limit_ms - used
        if left_ms <= 0:
            self.cpu_exceeded = True
            return 0.0
        return min(max(left_ms / 1000 / CORES, CPU_POLL_MIN_S), CPU_POLL_MAX_S)

    def _main_exited(self, sel: selectors.BaseSelector, stdin: IO[bytes]) -> None:
        self.ended = time.monotonic()
        self.drain_until = self.ended + DRAIN_SECONDS
        # Whatever the job left behind may hold the pipes open: it goes now.
        signal_everyone()
        if _is_registered(sel, stdin):
            sel.unregister(stdin)
            _close_quietly(stdin)

    def _feed(self, sel: selectors.BaseSelector, pipe: IO[bytes]) -> None:
        try:
            written = os.write(pipe.fileno(), self.stdin_left[:READ_CHUNK])
        except BlockingIOError:
            return
        except OSError:  # BrokenPipe: the job closed its stdin
            written = len(self.stdin_left)
        self.stdin_left = self.stdin_left[written:]
        if not self.stdin_left:
            sel.unregister(pipe)
            _close_quietly(pipe)

    def _read(self, sel: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        capture: Capture = key.data
        chunk = read_chunk(key.fd)
        if chunk is None:
            return
        if not chunk:
            sel.unregister(key.fileobj)
            return
        over = capture.add(chunk)
        if over and capture is self.err and self.step.stderr_soft:
            return  # cut and counted (stderr_truncated), not a reason to stop
        if over and capture is self.out and self.stdout_dropped:
            return
        if over and not self.output_exceeded:
            self.output_exceeded = True
            if self.status is None:
                self._kill(time.monotonic())

    def _kill(self, now: float) -> None:
        self.killed_at = now
        signal_everyone()

    def _reap(self) -> bool:
        """Reap every exited child; True when the step's main process was among them."""
        found = False
        while True:
            try:
                pid, status, rusage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return found
            if pid == 0:
                return found
            if pid == self.pid:
                self.status, self.rusage, found = status, rusage, True

    def _result(
        self, start: float, ended: float, oom_before: int | None, limit_hits_before: int | None
    ) -> StepResult:
        status = self.status if self.status is not None else 0
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        rusage = self.rusage
        cpu_ms = self._cpu_ms()
        oom_after = read_oom_kills()
        oom_killed = self.memory_exceeded or (
            oom_before is not None and oom_after is not None and oom_after > oom_before
        )
        limit_hits = read_limit_hits()
        limit_reached = (
            limit_hits_before is not None
            and limit_hits is not None
            and limit_hits > limit_hits_before
        )
        # RLIMIT_CPU's signals (SIGXCPU at the soft limit, SIGKILL at the hard
        # one) count only with the CPU time to show for it: a program that sends
        # itself SIGXCPU has reached no limit.
        cpu_limit_hit = (
            signum in (signal.SIGXCPU, signal.SIGKILL)
            and not self.killed_at
            and not oom_killed
            and cpu_ms >= self.jail_limits.cpu_seconds * 1000 - CPU_ACCOUNTING_SLACK_MS
        )
        return StepResult(
            exit_code=exit_code,
            signal=signum,
            stdout=bytes(self.out.data),
            stderr=bytes(self.err.data),
            stdout_truncated=self.out.total > self.out.limit,
            stderr_truncated=self.err.total > self.err.limit,
            timed_out=self.timed_out,
            cpu_exceeded=self.cpu_exceeded or cpu_limit_hit or self._over_cpu_limit(cpu_ms),
            output_exceeded=self.output_exceeded,
            oom_killed=oom_killed,
            memory_limit_reached=oom_killed or limit_reached,
            wall_ms=round((ended - start) * 1000, 3),
            cpu_ms=round(cpu_ms, 3),
            memory_kb=rusage.ru_maxrss if rusage else None,
        )

    def _cpu_ms(self) -> float:
        """All the step's CPU time: live (cgroup or process table), else what was reaped."""
        assert self.meter is not None
        used = self.meter.used_ms()
        if used is not None:
            return used
        main = (self.rusage.ru_utime + self.rusage.ru_stime) * 1000 if self.rusage else 0.0
        return max(main, self.meter.reaped_ms())

    def _over_cpu_limit(self, cpu_ms: float) -> bool:
        # A program that ended between two checks may still have gone past it.
        return self.cpu_limit_ms is not None and cpu_ms > self.cpu_limit_ms


def read_chunk(fd: int) -> bytes | None:
    """Up to READ_CHUNK bytes ``fd`` holds now: None when nothing yet, empty at EOF or error."""
    try:
        return os.read(fd, READ_CHUNK)
    except BlockingIOError:
        return None
    except OSError:  # the other end gone: as EOF
        return b""


def _widen_pipes(proc: JobProcess, output_limit: int) -> None:
    """Give the job's output pipes room for more than the output limit where allowed.

    A runtime that writes to a full pipe without blocking (Node.js queues the
    write and spins on) would otherwise never show the agent more than one pipe
    of output, and a flood would look like a timeout instead of output_limit.
    """
    size = min(max(output_limit + 65536, 65536), PIPE_MAX)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is None:
            continue
        try:
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, size)
        except (OSError, AttributeError):
            pass


def _is_registered(sel: selectors.BaseSelector, fileobj: IO[bytes]) -> bool:
    try:
        sel.get_key(fileobj)
    except (KeyError, ValueError):
        return False
    return True


def _close_quietly(pipe: IO[bytes]) -> None:
    try:
        pipe.close()
    except OSError:
        pass


def drain(fd: int) -> None:
    """Empty the non-blocking wakeup pipe ``fd``."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
