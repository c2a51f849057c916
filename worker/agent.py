"""The worker agent: PID 1 of a hardened worker container.

The agent prepares a build directory, runs untrusted programs in it as the job
user, and resets the container between jobs. It talks to the host over its own
stdin and stdout: newline-delimited JSON, one object per line, one reply per
request. Diagnostics go to stderr.

Host -> agent::

    {"type": "ping"}
    {"type": "job", "id": str, "files": {name: base64}, "compile": STEP | null,
     "runs": [RUN, ...], "finish": bool = true, "early_result": bool = false}
    {"type": "run", "id": str, "runs": [RUN, ...], "finish": bool = true,
     "early_result": bool = false}
    {"type": "finish", "id": str}

    STEP = {"argv": [str, ...], "env": {str: str} = {}, "timeout_ms": int = 10000,
            "output_limit": int = 65536, "file_size_limit": int = 64 MiB}
    RUN  = STEP + {"stdin": base64 = ""}

Agent -> host::

    {"type": "ready", "version": 1}                      once, at start-up
    {"type": "pong"}
    {"type": "result", "id": str, "compile": STEPRESULT | null,
     "runs": [STEPRESULT, ...], "clean": bool | null, "error": str | null}
    {"type": "cleaned", "id": str, "clean": bool}         after a result with clean null
    {"type": "finished", "id": str, "clean": bool}
    {"type": "error", "message": str, "id"?: str}        unparseable line, unknown type

    STEPRESULT = {"exit_code": int | null, "signal": int | null,
                  "stdout": base64, "stderr": base64,
                  "stdout_truncated": bool, "stderr_truncated": bool,
                  "timed_out": bool, "output_exceeded": bool, "oom_killed": bool,
                  "wall_ms": float, "cpu_ms": float, "memory_kb": int | null}

A job writes its files to /work/build, runs the compile step there as the job
user, then makes the build directory root-owned and read-only and runs each RUN
in a fresh /work/run. A failed compile (non-zero exit, signal, timeout, output
over the limit) answers with no runs. A job with finish=false keeps its build
for later "run" messages; finish=true (or a "finish" message) wipes everything.

With early_result (and finish), the result goes out as soon as the last step
is over, with clean null, and the wipe follows: its outcome comes in a
"cleaned" message before the agent reads its next request. Requests refused
before anything ran are answered with clean as usual.

`error` starts with "bad request:" when the message was invalid (nothing ran),
"no prepared build" for a "run" without a kept build, and "internal:" when the
agent itself failed. `clean` is false when the agent could not verify that no
job process, file or IPC object is left; the host must then replace the
container. `runs` is shorter than requested only when clean is false.

memory_kb is the job's ru_maxrss. Linux counts in it the resident size of the
forked agent at exec time, so it never reads below about 13 MB.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import errno
import fcntl
import json
import math
import os
import resource
import selectors
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

PROTOCOL_VERSION = 1
JOB_UID = 10001
JOB_GID = 10001
WORK_DIR = "/work"
BUILD_DIR = "/work/build"
RUN_DIR = "/work/run"
SCRATCH_DIRS = ("/tmp", "/dev/shm", "/dev/mqueue")
SYSVIPC_DIR = "/proc/sysvipc"
OOM_COUNTERS = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_OUTPUT_LIMIT = 64 * 1024
DEFAULT_FILE_SIZE_LIMIT = 64 * 1024 * 1024
JOB_NOFILE = 256
READ_CHUNK = 64 * 1024
# After the main process exits, how long leftover output may take to arrive.
DRAIN_SECONDS = 0.5
# How long a SIGKILLed process may take to disappear before the agent gives up.
KILL_SECONDS = 2.0

_libc = ctypes.CDLL(None, use_errno=True)


class BadRequest(Exception):
    """The host sent a message that cannot be executed as given."""


class AgentFailure(Exception):
    """The agent could not keep its guarantees (a process that will not die)."""


class HostGone(Exception):
    """Stdout is closed: nobody is listening any more."""


PIPE_MAX = 1 << 20  # /proc/sys/fs/pipe-max-size for a process without CAP_SYS_RESOURCE


def log(text: str) -> None:
    try:
        sys.stderr.write(f"agent: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# --- requests --------------------------------------------------------------


@dataclass
class Step:
    argv: list[str]
    env: dict[str, str]
    timeout_ms: int
    output_limit: int
    file_size_limit: int
    stdin: bytes = b""


@dataclass
class JobRequest:
    id: str
    files: dict[str, bytes]
    compile: Step | None
    runs: list[Step]
    finish: bool
    early: bool = False


@dataclass
class RunRequest:
    id: str
    runs: list[Step]
    finish: bool
    early: bool = False


def check_file_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise BadRequest("file name must be a non-empty string")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"file name is not valid UTF-8: {name!r}") from None
    if "/" in name or "\0" in name or name.startswith(".") or len(encoded) > 255:
        raise BadRequest(f"bad file name: {name!r}")
    return name


def decode_b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what} is not valid base64") from None


def _int_field(obj: dict, key: str, default: int, minimum: int) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BadRequest(f"{key} must be an integer >= {minimum}")
    return value


def parse_step(obj: object, *, is_run: bool) -> Step:
    if not isinstance(obj, dict):
        raise BadRequest("a step must be an object")
    argv = obj.get("argv")
    if (
        not isinstance(argv, list)
        or not argv
        or not all(isinstance(a, str) and "\0" not in a for a in argv)
    ):
        raise BadRequest("argv must be a non-empty list of strings without NUL")
    env = obj.get("env") or {}
    if not isinstance(env, dict):
        raise BadRequest("env must be an object")
    for key, value in env.items():
        if not key or "=" in key or "\0" in key:
            raise BadRequest(f"bad environment variable name: {key!r}")
        if not isinstance(value, str) or "\0" in value:
            raise BadRequest(f"environment value of {key} must be a string without NUL")
    raw_stdin = obj.get("stdin") if is_run else None
    return Step(
        argv=list(argv),
        env=dict(env),
        timeout_ms=_int_field(obj, "timeout_ms", DEFAULT_TIMEOUT_MS, 1),
        output_limit=_int_field(obj, "output_limit", DEFAULT_OUTPUT_LIMIT, 0),
        file_size_limit=_int_field(obj, "file_size_limit", DEFAULT_FILE_SIZE_LIMIT, 1),
        stdin=decode_b64(raw_stdin, "stdin") if raw_stdin else b"",
    )


def _parse_runs(msg: dict) -> list[Step]:
    runs = msg.get("runs", [])
    if not isinstance(runs, list):
        raise BadRequest("runs must be a list")
    return [parse_step(run, is_run=True) for run in runs]


def _parse_flag(msg: dict, key: str, default: bool) -> bool:
    value = msg.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be a boolean")
    return value


def parse_job(msg: dict) -> JobRequest:
    files = msg.get("files", {})
    if not isinstance(files, dict):
        raise BadRequest("files must be an object")
    decoded = {check_file_name(name): decode_b64(data, name) for name, data in files.items()}
    compile_step = msg.get("compile")
    return JobRequest(
        id=msg["id"],
        files=decoded,
        compile=None if compile_step is None else parse_step(compile_step, is_run=False),
        runs=_parse_runs(msg),
        finish=_parse_flag(msg, "finish", True),
        early=_parse_flag(msg, "early_result", False),
    )


def parse_run(msg: dict) -> RunRequest:
    return RunRequest(
        id=msg["id"],
        runs=_parse_runs(msg),
        finish=_parse_flag(msg, "finish", True),
        early=_parse_flag(msg, "early_result", False),
    )


# --- processes -------------------------------------------------------------


def other_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and name != "1"]


def reap_orphans() -> None:
    """Collect every exited child (PID 1 adopts all orphans of the container)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def signal_everyone() -> None:
    # From PID 1 of a PID namespace this reaches every other process in the
    # container and nothing outside it. main() refuses to run as another PID.
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_all(limit: float = KILL_SECONDS) -> bool:
    """Kill and reap every process but the agent; False if some survive `limit`."""
    end = time.monotonic() + limit
    while True:
        signal_everyone()
        reap_orphans()
        if not other_pids():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.002)


def read_oom_kills() -> int | None:
    for path in OOM_COUNTERS:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


# --- the job's own seccomp filter --------------------------------------------
#
# Docker 20.10's default seccomp profile still allows io_uring, whose kernel code
# has been the way into many privilege escalations (later Docker profiles drop
# it). Every job process gets one more filter, stacked on Docker's, that answers
# ENOSYS to io_uring and allows everything else; runtimes fall back to plain
# reads and writes. io_uring_setup, _enter and _register are 425-427 on every
# architecture; the x32 bit is masked off so that ABI cannot reach them either.

_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_X32_SYSCALL_BIT = 0x40000000
_IO_URING_FIRST, _IO_URING_LAST = 425, 427


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _job_filter() -> _SockFprog:
    program = [
        (0x20, 0, 0, 0),  # A = seccomp_data.nr
        (0x54, 0, 0, 0xFFFFFFFF & ~_X32_SYSCALL_BIT),  # A &= ~x32 bit
        (0x35, 0, 2, _IO_URING_FIRST),  # A >= first ? next : allow
        (0x25, 1, 0, _IO_URING_LAST),  # A > last ? allow : next
        (0x06, 0, 0, _SECCOMP_RET_ERRNO | errno.ENOSYS),
        (0x06, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    filters = (_SockFilter * len(program))(*(_SockFilter(*insn) for insn in program))
    return _SockFprog(len(program), filters)


# Built once: the forked child only hands it to the kernel.
_JOB_FILTER = _job_filter()


def _install_job_filter() -> None:
    # no_new_privs is already set (Docker's no-new-privileges), as the kernel requires.
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(_JOB_FILTER), 0, 0):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot install the job's seccomp filter: {os.strerror(code)}")


def _below_hard(which: int, wanted: int) -> int:
    hard = resource.getrlimit(which)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def _enter_job(cpu_seconds: int, file_size_limit: int) -> None:
    """Runs in the forked child before exec: limits first, then drop to the job user.

    oom_score_adj is written while still root: after the uid switch the process
    is not dumpable, so its /proc files belong to root and the write would fail.
    It makes a job process the OOM killer's first choice, but only by default: a
    job may lower it again down to the agent's own 0 (raising the floor needs
    CAP_SYS_RESOURCE), and then the agent can be the victim. The container dies
    with it and the host replaces it; nothing of the job survives either way.
    """
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        try:
            os.write(fd, b"1000")
        finally:
            os.close(fd)
    except OSError:
        pass  # without it the agent may be the OOM victim: the host then replaces the container
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    # The container's own fsize ulimit is a ceiling nobody here may raise.
    fsize = _below_hard(resource.RLIMIT_FSIZE, file_size_limit)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (JOB_NOFILE, JOB_NOFILE))
    # SCHED_IDLE: the agent's wakeups preempt the job at once. Without it, job
    # processes spinning through the container's CPU quota kept the agent off the
    # CPU for up to 1.7 s past a deadline (CFS bandwidth throttling); with it,
    # about one CFS period at most. Alone in its container's cgroup a job runs
    # as fast either way. RLIMIT_NICE 0 keeps a job from switching back.
    resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    os.setgroups([])
    os.setresgid(JOB_GID, JOB_GID, JOB_GID)
    os.setresuid(JOB_UID, JOB_UID, JOB_UID)
    _install_job_filter()


@dataclass
class _Capture:
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


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(data).decode("ascii")


def _spawn_failure(step: Step, exc: OSError) -> dict:
    """The result of a program that could not be executed, shaped like a shell's."""
    message = f"cannot execute {step.argv[0]}: {exc.strerror}\n".encode()
    flags = ("stdout_truncated", "stderr_truncated", "timed_out", "output_exceeded", "oom_killed")
    return {
        **dict.fromkeys(flags, False),
        "exit_code": 127 if isinstance(exc, FileNotFoundError) else 126,
        "signal": None,
        "stdout": "",
        "stderr": _b64(message),
        "wall_ms": 0.0,
        "cpu_ms": 0.0,
        "memory_kb": None,
    }


class StepRunner:
    """Runs one step to completion with a single-threaded selector loop.

    The agent's SIGCHLD wakeup pipe (`wake_fd`) ends the select() as soon as
    any child exits, so the main process is reaped without polling.
    """

    def __init__(self, step: Step, cwd: str, wake_fd: int) -> None:
        self.step = step
        self.cwd = cwd
        self.wake_fd = wake_fd
        self.cpu_seconds = math.ceil(step.timeout_ms / 1000) + 1
        self.out = _Capture(step.output_limit)
        self.err = _Capture(step.output_limit)
        self.status: int | None = None
        self.rusage: resource.struct_rusage | None = None
        self.timed_out = False
        self.output_exceeded = False
        self.killed_at: float | None = None
        self.stdin_left = memoryview(step.stdin)
        self.ended = 0.0
        self.drain_until = 0.0
        self.pid = 0

    def run(self) -> dict:
        _drain(self.wake_fd)
        oom_before = read_oom_kills()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                self.step.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=self.cwd,
                env=self.step.env,
                close_fds=True,
                start_new_session=True,
                preexec_fn=lambda: _enter_job(self.cpu_seconds, self.step.file_size_limit),
            )
        except OSError as exc:
            # Popen names argv[0] when exec failed; anything else is the agent's failure.
            if exc.filename != self.step.argv[0]:
                raise
            return _spawn_failure(self.step, exc)
        self.pid = proc.pid
        _widen_pipes(proc, self.step.output_limit)
        try:
            ended = self._loop(proc, start)
        finally:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    _close_quietly(pipe)
            # Popen must never reap a recycled pid later; the agent reaped it.
            proc.returncode = self.status if self.status is not None else -1
        return self._result(start, ended, oom_before)

    def _loop(self, proc: subprocess.Popen, start: float) -> float:
        """Pump the pipes until the main process is gone and its output drained.

        Returns the moment the main process was reaped.
        """
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
        assert stdin is not None and stdout is not None and stderr is not None
        deadline = start + self.step.timeout_ms / 1000
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
                        _drain(self.wake_fd)
                    elif key.data == "stdin":
                        self._feed(sel, stdin)
                    else:
                        self._read(sel, key.fileobj, key.data)
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
            if now < deadline:
                return min(deadline - now, 1.0)
            self.timed_out = True
            self._kill(now)
        assert self.killed_at is not None
        if now - self.killed_at > KILL_SECONDS:
            raise AgentFailure(f"job process {self.pid} does not die")
        return 0.05

    def _main_exited(self, sel: selectors.BaseSelector, stdin) -> None:
        self.ended = time.monotonic()
        self.drain_until = self.ended + DRAIN_SECONDS
        # Whatever the job left behind may hold the pipes open: it goes now.
        signal_everyone()
        if _is_registered(sel, stdin):
            sel.unregister(stdin)
            _close_quietly(stdin)

    def _feed(self, sel: selectors.BaseSelector, pipe) -> None:
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

    def _read(self, sel: selectors.BaseSelector, pipe, capture: _Capture) -> None:
        try:
            chunk = os.read(pipe.fileno(), READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            sel.unregister(pipe)
            return
        if capture.add(chunk) and not self.output_exceeded:
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

    def _result(self, start: float, ended: float, oom_before: int | None) -> dict:
        status = self.status if self.status is not None else 0
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        rusage = self.rusage
        cpu_ms = (rusage.ru_utime + rusage.ru_stime) * 1000 if rusage else 0.0
        oom_after = read_oom_kills()
        oom_killed = oom_before is not None and oom_after is not None and oom_after > oom_before
        cpu_limit_hit = signum == signal.SIGXCPU or (
            signum == signal.SIGKILL
            and not self.killed_at
            and not oom_killed
            and cpu_ms >= self.cpu_seconds * 1000
        )
        return {
            "exit_code": exit_code,
            "signal": signum,
            "stdout": _b64(self.out.data),
            "stderr": _b64(self.err.data),
            "stdout_truncated": self.out.total > self.out.limit,
            "stderr_truncated": self.err.total > self.err.limit,
            "timed_out": self.timed_out or cpu_limit_hit,
            "output_exceeded": self.output_exceeded,
            "oom_killed": oom_killed,
            "wall_ms": round((ended - start) * 1000, 3),
            "cpu_ms": round(cpu_ms, 3),
            "memory_kb": rusage.ru_maxrss if rusage else None,
        }


def _widen_pipes(proc: subprocess.Popen, output_limit: int) -> None:
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


def _is_registered(sel: selectors.BaseSelector, fileobj) -> bool:
    try:
        sel.get_key(fileobj)
    except (KeyError, ValueError):
        return False
    return True


def _close_quietly(pipe) -> None:
    try:
        pipe.close()
    except OSError:
        pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def step_failed(result: dict) -> bool:
    return (
        result["exit_code"] != 0
        or result["signal"] is not None
        or result["timed_out"]
        or result["output_exceeded"]
    )


# --- files -----------------------------------------------------------------


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _is_dir(name: str, dir_fd: int) -> bool:
    return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)


def _hoist_name(top_fd: int, counter: list[int]) -> str:
    while True:
        counter[0] += 1
        name = f".wipe-{counter[0]}"
        try:
            os.stat(name, dir_fd=top_fd, follow_symlinks=False)
        except FileNotFoundError:
            return name


def remove_entries(directory: str, names: list[str]) -> None:
    """Delete `names` in `directory`, trees included, without following symlinks.

    Rather than recursing, each subdirectory is renamed up into `directory` and
    emptied there, so any depth of tree takes two fds and no stack. Run it only
    while no job process is alive. Errors are left for the verification to find.
    """
    try:
        top_fd = os.open(directory, _DIR_FLAGS)
    except FileNotFoundError:
        return
    counter = [0]
    pending = list(names)
    try:
        while pending:
            name = pending.pop()
            try:
                if not _is_dir(name, top_fd):
                    os.unlink(name, dir_fd=top_fd)
                    continue
                pending.extend(_empty_dir(top_fd, name, counter))
                os.rmdir(name, dir_fd=top_fd)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log(f"cannot remove {directory}/{name}: {exc}")
    finally:
        os.close(top_fd)


def _empty_dir(top_fd: int, name: str, counter: list[int]) -> list[str]:
    """Unlink the non-directories in top/name; hoist its subdirectories into top."""
    hoisted = []
    fd = os.open(name, _DIR_FLAGS, dir_fd=top_fd)
    try:
        for child in os.listdir(fd):
            if _is_dir(child, fd):
                new_name = _hoist_name(top_fd, counter)
                os.rename(child, new_name, src_dir_fd=fd, dst_dir_fd=top_fd)
                hoisted.append(new_name)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    return hoisted


def remove_path(path: str) -> None:
    remove_entries(os.path.dirname(path), [os.path.basename(path)])


def wipe_contents(directory: str, keep: frozenset[str] = frozenset()) -> None:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    remove_entries(directory, [name for name in names if name not in keep])


def make_job_dir(path: str) -> None:
    """Create `path` afresh for the job user (only while no job process lives)."""
    remove_path(path)
    os.mkdir(path, 0o700)
    # Changed through a descriptor of what was just made, never by path again.
    fd = os.open(path, _DIR_FLAGS)
    try:
        os.fchown(fd, JOB_UID, JOB_GID)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def write_files(directory: str, files: dict[str, bytes]) -> None:
    dir_fd = os.open(directory, _DIR_FLAGS)
    try:
        for name, data in files.items():
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
            except OSError as exc:
                raise BadRequest(f"cannot create {name}: {exc.strerror}") from None
            try:
                os.fchown(fd, JOB_UID, JOB_GID)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as exc:
                raise BadRequest(f"cannot write {name}: {exc.strerror}") from None
            finally:
                os.close(fd)
    finally:
        os.close(dir_fd)


def _lock_file(dir_fd: int, entry: os.DirEntry) -> None:
    os.chown(entry.name, 0, 0, dir_fd=dir_fd, follow_symlinks=False)
    mode = entry.stat(follow_symlinks=False).st_mode
    if not stat.S_ISLNK(mode):
        # Not a symlink, and no job process is alive to swap it for one.
        os.chmod(entry.name, 0o755 if mode & 0o111 else 0o644, dir_fd=dir_fd)


def lock_tree(top: str) -> None:
    """Hand the build tree to root, read-only for the job, never following a symlink.

    Directories are opened with O_NOFOLLOW and changed through their fd; the walk
    holds one fd per level of depth.
    """
    fds: list[int] = []
    pending: list[Iterator[os.DirEntry]] = []

    def enter(fd: int) -> None:
        fds.append(fd)
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o755)
        pending.append(iter(list(os.scandir(fd))))

    try:
        enter(os.open(top, _DIR_FLAGS))
        while pending:
            entry = next(pending[-1], None)
            if entry is None:
                pending.pop()
                os.close(fds.pop())
            elif entry.is_dir(follow_symlinks=False):
                enter(os.open(entry.name, _DIR_FLAGS, dir_fd=fds[-1]))
            else:
                _lock_file(fds[-1], entry)
    finally:
        for fd in fds:
            os.close(fd)


# --- System V IPC ----------------------------------------------------------

_IPC_RMID = 0


def ipc_objects() -> dict[str, list[int]]:
    """Ids of the IPC namespace's shared memory segments, message queues, semaphores."""
    found: dict[str, list[int]] = {}
    for kind in ("shm", "msg", "sem"):
        try:
            with open(os.path.join(SYSVIPC_DIR, kind)) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        ids = [int(row.split()[1]) for row in rows if row.strip()]
        if ids:
            found[kind] = ids
    return found


def remove_ipc() -> bool:
    """Remove the job's IPC objects from a child running as the job user.

    IPC_RMID needs the owner's or creator's uid (or CAP_SYS_ADMIN, which the
    agent lacks); every object here was created by the job user. Returns
    whether there were any (when there were none, there is nothing to verify).
    """
    objects = ipc_objects()
    if not objects:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(JOB_GID, JOB_GID, JOB_GID)
            os.setresuid(JOB_UID, JOB_UID, JOB_UID)
            for ident in objects.get("shm", []):
                _libc.shmctl(ident, _IPC_RMID, None)
            for ident in objects.get("msg", []):
                _libc.msgctl(ident, _IPC_RMID, None)
            for ident in objects.get("sem", []):
                _libc.semctl(ident, 0, _IPC_RMID)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return True


# --- the agent -------------------------------------------------------------


def _result(
    ident: object,
    compile_result: dict | None,
    runs: list[dict],
    clean: bool | None,
    error: str | None = None,
) -> dict:
    return {
        "type": "result",
        "id": ident,
        "compile": compile_result,
        "runs": runs,
        "clean": clean,
        "error": error,
    }


class Agent:
    def __init__(self, wake_fd: int) -> None:
        self.wake_fd = wake_fd
        self.build_ready = False
        self.owed_cleanup: str | None = None  # the id of an early result not yet wiped
        self.pristine = False  # a verified reset happened and no job ran since

    def handle(self, msg: object) -> dict:
        """Answer one decoded message; never raises."""
        if not isinstance(msg, dict):
            return {"type": "error", "message": "a message must be a JSON object"}
        kind = msg.get("type")
        if kind == "ping":
            return {"type": "pong"}
        if kind not in ("job", "run", "finish"):
            return _with_id({"type": "error", "message": f"unknown type: {kind!r}"}, msg)
        if kind != "finish" and not isinstance(msg.get("id"), str):
            return _with_id({"type": "error", "message": "id must be a string"}, msg)
        ident = msg.get("id")
        try:
            if kind == "job":
                return self.handle_job(msg)
            if kind == "run":
                return self.handle_run(msg)
            return {"type": "finished", "id": ident, "clean": self.reset()}
        except Exception as exc:
            log(f"internal error on {kind} {ident!r}: {exc!r}")
            self.build_ready = False
            self.pristine = False
            self.owed_cleanup = None
            try:
                kill_all()
            except Exception:
                pass
            if kind == "finish":
                return {"type": "finished", "id": ident, "clean": False}
            return _result(ident, None, [], False, f"internal: {exc}")

    def handle_job(self, msg: dict) -> dict:
        self.build_ready = False
        ident = msg["id"]
        try:
            job = parse_job(msg)
        except BadRequest as exc:
            return _result(ident, None, [], self.reset(), f"bad request: {exc}")
        finally:
            # Everything a job process is forked with counts in its ru_maxrss:
            # drop the raw message before forking.
            msg.clear()
        # A verified reset since the last job (usually the cleanup owed after its
        # early result) leaves nothing to redo: no job process can have run since.
        if not (self.pristine or self.reset()):
            return _result(job.id, None, [], False, "internal: the container is not clean")
        self.pristine = False
        make_job_dir(BUILD_DIR)
        try:
            write_files(BUILD_DIR, job.files)
        except BadRequest as exc:
            return _result(job.id, None, [], self.reset(), f"bad request: {exc}")
        finally:
            job.files.clear()
        compile_result = None
        if job.compile is not None:
            compile_result = StepRunner(job.compile, BUILD_DIR, self.wake_fd).run()
            if step_failed(compile_result):
                return _result(job.id, compile_result, [], self.reset_now_or_owe(job.id, job.early))
        if not self.cleanup(keep_build=True):
            return _result(job.id, compile_result, [], False)
        lock_tree(BUILD_DIR)
        self.build_ready = True
        runs, clean = self.execute_runs(job.id, job.runs, job.finish, job.early)
        return _result(job.id, compile_result, runs, clean)

    def handle_run(self, msg: dict) -> dict:
        ident = msg["id"]
        try:
            request = parse_run(msg)
        except BadRequest as exc:
            return _result(ident, None, [], self.verify(self.build_ready), f"bad request: {exc}")
        finally:
            msg.clear()
        if not self.build_ready:
            return _result(request.id, None, [], self.verify(False), "no prepared build")
        runs, clean = self.execute_runs(request.id, request.runs, request.finish, request.early)
        return _result(request.id, None, runs, clean)

    def execute_runs(
        self, ident: str, steps: list[Step], finish: bool, early: bool
    ) -> tuple[list[dict], bool | None]:
        results = []
        clean = True
        for index, step in enumerate(steps):
            make_job_dir(RUN_DIR)
            results.append(StepRunner(step, RUN_DIR, self.wake_fd).run())
            step.stdin = b""
            if finish and index == len(steps) - 1:
                break  # the reset below cleans up: after the result, when it is early
            clean = self.cleanup(keep_build=True)
            if not clean:
                self.build_ready = False
                return results, False
        if finish:
            return results, self.reset_now_or_owe(ident, early)
        return results, clean and self.verify(keep_build=True)

    def reset_now_or_owe(self, ident: str, early: bool) -> bool | None:
        """reset() now; or, for an early result, once it is sent (None meanwhile)."""
        if not early:
            return self.reset()
        self.build_ready = False
        self.owed_cleanup = ident
        return None

    def pay_cleanup(self) -> dict | None:
        """The reset owed after an early result, and the ``cleaned`` message saying how it went."""
        ident, self.owed_cleanup = self.owed_cleanup, None
        if ident is None:
            return None
        try:
            clean = self.reset()
        except Exception as exc:
            log(f"internal error cleaning up after {ident!r}: {exc!r}")
            try:
                kill_all()
            except Exception:
                pass
            clean = False
        return {"type": "cleaned", "id": ident, "clean": clean}

    def reset(self) -> bool:
        """Wipe everything, the build included."""
        self.build_ready = False
        self.pristine = self.cleanup(keep_build=False)
        return self.pristine

    def cleanup(self, *, keep_build: bool) -> bool:
        """Kill every job process and wipe what jobs can write; True if verified clean."""
        if not kill_all():
            log(f"processes survive SIGKILL: {other_pids()}")
            return False
        # No job process is left, so IPC found empty now stays empty.
        had_ipc = remove_ipc()
        for directory in SCRATCH_DIRS:
            wipe_contents(directory)
        wipe_contents(WORK_DIR, keep=frozenset({"build"}) if keep_build else frozenset())
        return self.verify(keep_build, check_ipc=had_ipc)

    def verify(self, keep_build: bool, *, check_ipc: bool = True) -> bool:
        problems = []
        if other_pids():
            problems.append(f"processes {other_pids()}")
        for directory in SCRATCH_DIRS:
            if os.path.isdir(directory) and os.listdir(directory):
                problems.append(f"{directory} not empty")
        allowed = {"build"} if keep_build else set()
        if set(os.listdir(WORK_DIR)) - allowed:
            problems.append(f"{WORK_DIR} holds {sorted(os.listdir(WORK_DIR))}")
        if check_ipc and (left := ipc_objects()):
            problems.append(f"IPC objects {left}")
        for problem in problems:
            log(f"not clean: {problem}")
        return not problems


def _with_id(reply: dict, msg: dict) -> dict:
    if isinstance(msg.get("id"), str):
        reply["id"] = msg["id"]
    return reply


# --- start-up and the message loop -----------------------------------------


def _terminate(signum: int, _frame) -> None:
    log(f"signal {signum}: killing jobs and exiting")
    signal_everyone()
    os._exit(0)


def _setup() -> int:
    """Prepare the process; return the read end of the SIGCHLD wakeup pipe."""
    os.umask(0o022)
    # A fixed mmap threshold returns big message buffers to the kernel, which
    # keeps the agent small and with it the floor of every job's ru_maxrss.
    _libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _terminate)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    # A tmpfs mounts world-writable; only the agent may create entries in /work.
    os.chmod(WORK_DIR, 0o755)
    return wake_read


def send(reply: dict, fd: int = 1) -> None:
    """Write one message whole.

    Stdout is unbuffered (-u): one write() may take only part of a large reply
    when a signal (SIGCHLD from a job process dying just then) interrupts it, and
    the rest would be lost. So loop until every byte is out.
    """
    data = memoryview(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError as exc:
        raise HostGone from exc


def main() -> int:
    if os.getpid() != 1:
        log("refusing to run: the agent must be PID 1 of its own PID namespace")
        return 2
    agent = Agent(_setup())
    if not agent.reset():
        log("start-up: the container was not clean")
    try:
        send({"type": "ready", "version": PROTOCOL_VERSION})
        while True:
            line = sys.stdin.buffer.readline()
            if not line:
                log("stdin closed: exiting")
                break
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except (ValueError, RecursionError) as exc:
                send({"type": "error", "message": f"bad json: {exc}"})
                continue
            finally:
                line = b""
            send(agent.handle(msg))
            msg = None
            cleaned = agent.pay_cleanup()
            if cleaned is not None:
                send(cleaned)
    except HostGone:
        log("stdout closed: exiting")
    kill_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
