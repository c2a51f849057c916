"""A started Python that forks the warm processes of later runs (agent.forkserver).

Run by the agent, as root, as ``python3 -E -s -B python_forkserver.py <socket>
<uid> <gid> <address space> <jail limits...>`` with the run's environment
(the limits as :meth:`agent.protocol.limits.JailLimits.to_argv` writes them).
It never reads anything of a job: each message on ``<socket>`` (a
``SOCK_SEQPACKET`` end only the agent holds) brings a directory and four
descriptors (the process's stdin, stdout and stderr, and the pipe its argv will
come down), and it answers with the pid of a fresh process that:

- is the agent's child, not this one's (forked twice, the middle one exits at
  once, PID 1 adopts it), so the agent waits for it, measures it and reaps it as
  any job process;
- enters the job's jail as a job process does before exec (:meth:`agent.jail.Jail.enter`:
  session, rlimits, oom_score_adj, SCHED_IDLE, the job user, Landlock, seccomp),
  then closes every descriptor but the three and the argv pipe;
- forgets the modules this server imported beyond what the interpreter starts
  with, and then is :mod:`python_launcher` waiting for its program.

It ends when the agent closes its end, or on the agent's SIGKILL.
"""

import os
import sys

_STARTED_WITH = set(sys.modules)  # what a plain python3 has, before any import here
_OWN_PATH = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, _OWN_PATH)

import gc  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402

import python_launcher  # noqa: E402

from agent import jail  # noqa: E402
from agent.libc import libc  # noqa: E402
from agent.protocol.limits import JailLimits  # noqa: E402

del sys.path[0]
_PR_SET_DUMPABLE = 4
_FDS_PER_PROCESS = 4  # stdin, stdout, stderr, the argv pipe


def _become_job(fds: list[int], cwd: str, job_jail: jail.Jail) -> None:
    """In the forked process: the jail, then the launcher. Never returns."""
    try:
        stdin, stdout, stderr, argv_pipe = fds
        os.setsid()
        for target, fd in enumerate((stdin, stdout, stderr)):
            os.dup2(fd, target)
        argv_fd = os.dup(argv_pipe)
        os.chdir(cwd)
        job_jail.enter()
        # The uid switch without an exec left the process undumpable, its /proc
        # files root's: a program's own /proc/self/fd would be closed to it.
        libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
        os.closerange(3, argv_fd)
        os.closerange(argv_fd + 1, jail.JOB_NOFILE)
        # The jail put every signal to the kernel's default; an interpreter
        # starts with its own for these three.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        python_launcher.fresh_stdio()
        for name in set(sys.modules) - _STARTED_WITH:
            del sys.modules[name]
    except BaseException as exc:
        try:
            os.write(2, f"warm start failed: {exc!r}\n".encode())
        finally:
            os._exit(126)
    python_launcher.serve(argv_fd)
    os._exit(0)


def _spawn(fds: list[int], cwd: str, job_jail: jail.Jail) -> int:
    """Fork the process twice; its pid once PID 1 has adopted it (0 when it failed)."""
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(read_end)
            pid = os.fork()
            if pid == 0:
                os.close(write_end)
                _become_job(fds, cwd, job_jail)
            os.write(write_end, str(pid).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        answer = os.read(read_end, 32)
    finally:
        os.close(read_end)
    os.waitpid(middle, 0)  # once it is gone, the process is PID 1's
    return int(answer or b"0")


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    uid, gid, address_space = (int(value) for value in sys.argv[2:5])
    job_jail = jail.Jail(JailLimits.from_argv(sys.argv[5:]), uid, gid)
    jail.JOB_ADDRESS_SPACE = address_space if address_space > 0 else None
    jail.prepare()
    # Out of the collector's sight: a collection in a forked process would
    # otherwise write to every object here, a copy-on-write fault per page.
    gc.freeze()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 4096, _FDS_PER_PROCESS)
        except OSError:
            return
        if not message:
            return
        try:
            pid = _spawn(fds, os.fsdecode(message), job_jail) if len(fds) == _FDS_PER_PROCESS else 0
        except OSError:
            pid = 0
        finally:
            for fd in fds:
                os.close(fd)
        control.send(str(pid).encode())


if __name__ == "__main__":
    main()
