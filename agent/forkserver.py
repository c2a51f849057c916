"""Warm Python processes forked from one started interpreter, not started each time.

A warm start (agent.warm) moves a run's interpreter start off the request's path,
but every job still pays for one: some 10 ms of the container's CPU, its 0.5 CPU
share included, which bounds how many jobs a container finishes a second. The
fork server pays it once per container: an interpreter started by the agent (as
root, the engine's like the agent, with the run's environment) imports the
jail, builds the Landlock ruleset and then only forks. Each warm Python process
is forked from it (twice: PID 1 adopts it, so it is the agent's child to wait
for, measure and reap), enters the job's jail as a job process does before exec
and becomes the Python launcher, waiting for its program as before.

What keeps jobs apart, beyond what agent.warm says of every warm process:

- The server reads nothing of any job: a request is a directory and four
  descriptors, never a byte of code, input or output. Whatever job N did, the
  memory job N+1 is forked from is the server's own.
- It is root's, the job user's never: no job process may signal, trace or read
  it (the kernel's permission checks: another uid, no capabilities), and the
  agent's kills (:func:`agent.processes.signal_everyone`) spare it by pid and
  uid, never by pid alone. Everything else dies at every cleanup as before.
- It is alive beside a job (in /proc, as root's); that is all a job learns of it.

If it dies (the OOM killer, say), or does not answer within 5 s, it is
stopped and the next warm start starts a new one (after three such in a row, the
container stops trying); meanwhile warm Pythons start as they did without it
(agent.warm's spawn), and cold starts are never affected.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
from dataclasses import dataclass

from agent import jail, leftovers, processes
from agent.log import log
from agent.protocol import Step

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launchers/python_forkserver.py")
# How long the server may take to answer (its first answer waits for its start).
ANSWER_SECONDS = 5.0
# Servers that failed one after the other before the container stops trying.
FAILURES_ALLOWED = 3


@dataclass
class ForkedProcess:
    """A process forked by the server, with the agent's ends of its pipes (as Popen's)."""

    pid: int
    stdin: io.FileIO | None
    stdout: io.FileIO | None
    stderr: io.FileIO | None
    returncode: int | None = None


@dataclass
class ForkServer:
    """One started interpreter forking the warm processes of one run template."""

    step: Step  # the template's run step: its interpreter, environment, limits
    proc: subprocess.Popen[bytes] | None = None
    control: socket.socket | None = None
    failures: int = 0  # servers that failed since the last fork that worked
    sockets: tuple[int, ...] = ()  # the inodes of its control pair (agent.leftovers)

    @property
    def failed(self) -> bool:
        """Whether to stop trying in this container (warm starts go on without it)."""
        return self.failures >= FAILURES_ALLOWED

    def fork(self, cwd: str) -> tuple[ForkedProcess, int] | None:
        """A fresh process waiting in ``cwd``, and the pipe its argv goes down; None: no server."""
        if self.failed:
            return None
        if self.control is None and not self._start():
            return None
        assert self.control is not None
        pipes: list[tuple[int, int]] = []
        try:
            for _ in range(4):  # stdin, stdout, stderr, argv: each (read end, write end)
                pipes.append(os.pipe2(os.O_CLOEXEC))
        except OSError as exc:
            for pipe in pipes:
                os.close(pipe[0])
                os.close(pipe[1])
            log(f"fork server: no pipes ({exc})")
            return None
        (stdin_r, stdin_w), (out_r, out_w), (err_r, err_w), (argv_r, argv_w) = pipes
        theirs, ours = [stdin_r, out_w, err_w, argv_r], [stdin_w, out_r, err_r, argv_w]
        try:
            socket.send_fds(self.control, [os.fsencode(cwd)], theirs)
            answer = self.control.recv(32)
            pid = int(answer or b"0")
        except (OSError, ValueError) as exc:
            pid, problem = 0, f"no answer ({exc!r})"
        else:
            problem = "the fork failed"
        finally:
            for fd in theirs:
                os.close(fd)
        if pid <= 0:
            log(f"fork server: {problem}; stopping it")
            for fd in ours:
                os.close(fd)
            self.stop()
            self.failures += 1
            return None
        self.failures = 0
        forked = ForkedProcess(
            pid,
            io.FileIO(ours[0], "wb"),
            io.FileIO(ours[1], "rb"),
            io.FileIO(ours[2], "rb"),
        )
        return forked, ours[3]

    def stop(self) -> None:
        """Kill and reap the server (a new one starts at the next fork)."""
        leftovers.ENGINE_SOCKETS.difference_update(self.sockets)
        self.sockets = ()
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.proc is not None:
            processes.ENGINE_PIDS.discard(self.proc.pid)
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
                os.waitpid(self.proc.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass  # already reaped with the job processes
            self.proc.returncode = -1  # reaped here: Popen must never wait on a recycled pid
            self.proc = None

    def _start(self) -> bool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sockets = (leftovers.socket_inode(ours), leftovers.socket_inode(theirs))
        leftovers.ENGINE_SOCKETS.update(self.sockets)
        address_space = jail.JOB_ADDRESS_SPACE or 0
        argv = [
            *self.step.argv[:-1],
            SERVER,
            str(theirs.fileno()),
            str(jail.JOB_UID),
            str(jail.JOB_GID),
            str(address_space),
            *self.step.limits.jail().to_argv(),
        ]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
                env=self.step.env,
                close_fds=True,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except OSError as exc:
            log(f"fork server not started: {exc}")
            leftovers.ENGINE_SOCKETS.difference_update(self.sockets)
            self.sockets = ()
            ours.close()
            self.failures = FAILURES_ALLOWED
            return False
        finally:
            theirs.close()
        ours.settimeout(ANSWER_SECONDS)
        self.control = ours
        processes.ENGINE_PIDS.add(self.proc.pid)
        return True
