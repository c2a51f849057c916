"""What a job process gets between fork and exec, and the job user it becomes.

Everything here runs in the forked child (``preexec_fn``), still as root: limits
first, then the drop to the job user, then the seccomp filter. The job user has
no capabilities at all (they go with the uid switch, and no-new-privileges stops
setuid binaries from handing any back).
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import subprocess
from dataclasses import dataclass

from agent import landlock
from agent.layout import JOB_UIDS, TOOL_ID_SHIFT
from agent.libc import libc
from agent.protocol.limits import JailLimits
from agent.seccomp import install_job_filter

JOB_NOFILE = 256


def _job_uid(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    try:
        uid = int(environ.get("CODE_ENGINE_JOB_UID", ""))
    except ValueError:
        return JOB_UIDS[0]
    return uid if uid in JOB_UIDS else JOB_UIDS[0]


JOB_UID = JOB_GID = _job_uid()


def _address_space(environ: dict[str, str] | os._Environ[str] = os.environ) -> int | None:
    """The job's RLIMIT_AS in bytes, when the host asks for one; None otherwise.

    Under gVisor only (CODE_ENGINE_JOB_ADDRESS_SPACE_MB, the host's RAM).
    Linux's heuristic overcommit refuses one allocation larger than RAM and
    swap: a program asking for 64 TB gets ENOMEM and says so its own way
    (MemoryError, std::bad_alloc, Go's "out of memory"). gVisor's kernel grants
    any such mapping, and the program touches it into the sandbox's OOM or its
    time limit, or reads zeros from it and succeeds. An address-space limit at
    the host's RAM gives the refusal back; no runtime of ours reserves near it.
    """
    try:
        megabytes = int(environ.get("CODE_ENGINE_JOB_ADDRESS_SPACE_MB", ""))
    except ValueError:
        return None
    return megabytes << 20 if megabytes > 0 else None


JOB_ADDRESS_SPACE = _address_space()

# Built once at start-up (prepare()), used by every job between fork and exec.
_landlock_ruleset: int | None = None


def prepare() -> str:
    """Build what every job's jail needs, once, at start-up; a line for the log."""
    global _landlock_ruleset
    _landlock_ruleset = landlock.build()
    hiding = (
        f"{landlock.HIDDEN} hidden from jobs (Landlock ABI {landlock.abi_version()})"
        if _landlock_ruleset is not None
        else f"no Landlock here: jobs can read {landlock.HIDDEN}"
    )
    return f"jobs run as uid {JOB_UID}; {hiding}"


def tool_ids(job_uid: int = JOB_UID, job_gid: int = JOB_GID) -> tuple[int, int]:
    """The uid and gid a problem's tools (checker, interactor) run as.

    Not the job's: a job process cannot signal, trace or read what runs as it.
    Derived from the job user's ids, so a per-container job uid moves it along.
    """
    return job_uid + TOOL_ID_SHIFT, job_gid + TOOL_ID_SHIFT


def become_job_user(uid: int = JOB_UID, gid: int = JOB_GID) -> None:
    """Switch every uid and gid to the job user's (or ``uid``/``gid``), no supplementary groups."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def below_hard(which: int, wanted: int) -> int:
    """``wanted``, lowered to the hard limit of ``which`` that nobody here may raise."""
    hard = resource.getrlimit(which)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


# rt_sigaction's number, for the signals the C library keeps for itself.
_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}


def _default_raw(signum: int) -> None:
    """Put ``signum`` to SIG_DFL through the system call itself.

    glibc refuses sigaction() for the two real-time signals it uses inside
    (32 and 33), but a disposition set before (the container's first process
    starts with 32 ignored) would pass on through exec.
    """
    number = _RT_SIGACTION.get(platform.machine())
    if number is None:
        return
    # struct kernel_sigaction: handler (SIG_DFL is 0), flags, restorer, mask.
    action = (ctypes.c_ulong * 4)()
    libc.syscall(number, signum, ctypes.byref(action), None, 8)


def reset_signals() -> None:
    """Every signal at its default disposition and none blocked: what a fresh process has.

    Dispositions set to be ignored, and the blocked mask, survive fork and
    exec: a job would otherwise start with whatever the agent inherited.
    """
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            _default_raw(signum)


def lowest_priority() -> None:
    """Put the job below the agent: SCHED_IDLE, or nice 19 where that is not offered.

    SCHED_IDLE: the agent's wakeups preempt the job at once. Without it, job
    processes spinning through the container's CPU quota kept the agent off the
    CPU for up to 1.7 s past a deadline (CFS bandwidth throttling); with it,
    about one CFS period at most. Alone in its container's cgroup a job runs as
    fast either way. RLIMIT_NICE 0 keeps a job from switching back (Docker's
    default already; gVisor refuses even to set it to what it is).

    gVisor has no SCHED_IDLE (EINVAL): its own scheduler runs the sandbox's
    tasks, and nice 19 is the closest it takes.
    """
    if resource.getrlimit(resource.RLIMIT_NICE) != (0, 0):
        resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError:
        os.setpriority(os.PRIO_PROCESS, 0, 19)


@dataclass(frozen=True, slots=True)
class Jail:
    """What one job process gets between fork and exec: the one configuration of every jail.

    Every process that runs a job's or a tool's code enters it, through
    :func:`spawn` (compile and run steps, warm starts, interactive runs) or,
    without an exec, in a fork server's child (agent.forkserver).

    ``uid``/``gid``: another unprivileged user (a problem's tool, see
    :func:`tool_ids`), under the same limits and filter. ``oom_score_adj``: an
    interactor, running beside the job, is the OOM killer's second choice.
    """

    limits: JailLimits  # the step's rlimits (agent.protocol.limits)
    uid: int = JOB_UID
    gid: int = JOB_GID
    oom_score_adj: int = 1000

    def enter(self) -> None:
        """Runs in the forked child before exec: limits first, then drop to the user.

        oom_score_adj is written while still root: after the uid switch the process
        is not dumpable, so its /proc files belong to root and the write would fail.
        It makes a job process the OOM killer's first choice, but only by default: a
        job may lower it again down to the agent's own 0 (raising the floor needs
        CAP_SYS_RESOURCE), and then the agent can be the victim. The container dies
        with it and the host replaces it; nothing of the job survives either way.

        Raises:
            OSError: a limit, the user switch or the seccomp filter failed; Popen
                reports it and the step does not run.
        """
        _enter(self.limits, self.uid, self.gid, self.oom_score_adj)


def spawn(
    argv: list[str],
    jail: Jail,
    *,
    cwd: str,
    env: dict[str, str],
    stdin: int,
    stdout: int,
    stderr: int,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in ``jail``: the one way the agent starts a process of a job's.

    Its own session (the agent kills by session and by user), no descriptor of
    the agent's but the three given and ``pass_fds``, unbuffered pipes.

    Raises:
        OSError: as Popen does (the program's name in ``filename`` when it could
            not be executed).
    """
    return subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        bufsize=0,
        cwd=cwd,
        env=env,
        close_fds=True,
        pass_fds=pass_fds,
        start_new_session=True,
        preexec_fn=jail.enter,
    )


def _enter(limits: JailLimits, uid: int, gid: int, oom_score_adj: int) -> None:
    reset_signals()
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        try:
            os.write(fd, str(oom_score_adj).encode())
        finally:
            os.close(fd)
    except OSError:
        pass  # without it the agent may be the OOM victim: the host then replaces the container
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    # The container's own fsize ulimit is a ceiling nobody here may raise.
    fsize = below_hard(resource.RLIMIT_FSIZE, limits.file_size_bytes)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (JOB_NOFILE, JOB_NOFILE))
    if JOB_ADDRESS_SPACE is not None:
        limit = below_hard(resource.RLIMIT_AS, JOB_ADDRESS_SPACE)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    lowest_priority()
    become_job_user(uid, gid)
    if _landlock_ruleset is not None:
        landlock.restrict(_landlock_ruleset)
    install_job_filter()
