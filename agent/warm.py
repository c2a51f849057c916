"""Warm starts: a run's interpreter started before its request arrives.

Most of a Python or JavaScript hello world is the interpreter starting. The
host names, in the container's environment (``CODE_ENGINE_WARM``), the run
steps worth starting ahead (each language's run at the default limits) and the
launcher that takes each one's place until the program is known
(:mod:`agent.launchers`). Whenever the container is verified clean, the agent
starts those interpreters as it would start the run itself: a fresh process,
the job user, the step's rlimits, Landlock and seccomp filter, in a fresh run
directory; each then waits, before it has read anything of any job, for the
program's argv on a pipe only the agent holds, having said on another that it
does (a step waits for that before its clocks start: what a launcher still had
to prepare is never the job's time).

A run step that matches one (same argv up to the program, environment, CPU and
file-size limits, user) takes it: the agent sends the argv, and from then on it
is that step's process like any other (pipes, deadlines, CPU meter, reaping).
Any other step discards them all first, so nothing but the engine's own code
ever runs beside a warm process.

What keeps jobs apart: a warm process is started only while no job process
exists, and every one alive when a job starts dies with that job's cleanup (the
agent kills every process but the engine's own); the next job's is started after
it. So no job can reach, let alone change, the process that will run a later
job, and no warm process has seen an earlier job's code or data.

A Python template may name a fork server (agent.forkserver): its warm processes
are then forked from one interpreter started per container instead of started
each; a warm start it cannot give is started as before.

Which to keep: all of them at first; then the one the container's last run
used (the next request on it is likely the same language), none after a run
that matched none (a compiled program's). Starting a Node.js costs some 53 ms of
CPU in the container, from the image's start-up snapshot: only what is likely
to be used is started.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
from dataclasses import dataclass, field

from agent.forkserver import ForkedProcess, ForkServer
from agent.jail import JOB_GID, JOB_UID, Jail, spawn
from agent.log import log
from agent.protocol import Step
from agent.protocol.fields import ProtocolError

LAUNCHER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launchers")
# What a launcher writes down its ready pipe once it waits for its program.
READY = b"r"
# How long a step waits for a warm process still preparing before it starts cold.
# The wait is outside the job's clocks but inside the host's deadline for the run,
# which allows CODE_ENGINE_GRACE_MS (2 s by default) past the job's limits: half
# of that. A JVM's start and preparations took about a second under gVisor.
READY_WAIT_S = 1.0
# A warm process: started by the agent, or forked by a fork server.
JobProcess = subprocess.Popen[bytes] | ForkedProcess


@dataclass(frozen=True)
class Template:
    """A run step to start ahead, and the launcher that stands in for its program."""

    step: Step
    launcher: str  # a file of LAUNCHER_DIR
    # Fork its warm processes from one started interpreter (agent.forkserver).
    fork_server: bool = False

    def matches(self, step: Step, user: tuple[int, int]) -> bool:
        return (
            user == (JOB_UID, JOB_GID)
            and step.argv[: len(self.step.argv)] == self.step.argv
            and step.env == self.step.env
            # What the jail set when the process started: it cannot change after.
            and step.limits.jail() == self.step.limits.jail()
        )


def templates_from(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[Template]:
    """The templates the host asked for; none when the variable is unset or unreadable."""
    raw = environ.get("CODE_ENGINE_WARM", "")
    if not raw:
        return []
    try:
        entries = json.loads(raw)
        found = []
        for entry in entries:
            launcher = str(entry["launcher"])
            if os.path.basename(launcher) != launcher:
                raise ProtocolError(f"launcher {launcher!r} is not a file name")
            step = Step.from_wire(entry["step"], with_stdin=False)
            if len(step.argv) < 2:
                raise ProtocolError("a warm step runs a program file: argv has two parts at least")
            fork_server = entry.get("fork_server", False) is True
            if fork_server and launcher != "python_launcher.py":
                raise ProtocolError(f"no fork server runs {launcher!r}")
            found.append(Template(step, launcher, fork_server))
        return found
    except (ValueError, KeyError, TypeError, ProtocolError) as exc:
        log(f"CODE_ENGINE_WARM ignored: {exc}")
        return []


@dataclass
class WarmProcess:
    """A started interpreter waiting for its program."""

    template: Template
    proc: JobProcess
    control: int  # the pipe the argv goes down
    # The pipe down which the launcher says it is waiting for its program, its
    # preparations done; -1: ready as soon as made (a fork server's).
    ready_fd: int = -1

    def wait_ready(self, timeout: float) -> bool:
        """Wait until it waits for its program; False, and discarded, when it died or is late.

        Before a step's clocks start: what a launcher still had to prepare when its
        request came is the engine's time, never the job's (a JVM's start and
        warm-up are some 100 ms of CPU), as it is when the request comes later.
        """
        if self.ready_fd < 0:
            return True
        readable, _, _ = select.select([self.ready_fd], [], [], timeout)
        said = os.read(self.ready_fd, 1) if readable else b""
        os.close(self.ready_fd)
        self.ready_fd = -1
        if said != READY:
            log(f"warm start of {self.template.step.argv[0]} not ready: started cold")
            self.discard()
            return False
        return True

    def start(self, step: Step) -> bool:
        """Send the program's argv; False when the process is gone (then it is reaped)."""
        program = step.argv[len(self.template.step.argv) - 1 :]
        message = b"\0".join(os.fsencode(part) for part in program)
        try:
            view = memoryview(message)
            while view:
                view = view[os.write(self.control, view) :]
        except OSError:  # EPIPE: it died waiting (its memory, say); the step starts cold
            self.discard()
            return False
        os.close(self.control)
        self.control = -1
        return True

    def discard(self) -> None:
        """Kill and reap it."""
        for fd in (self.control, self.ready_fd):
            if fd >= 0:
                os.close(fd)
        self.control = self.ready_fd = -1
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.proc.pid, 0)
        except ChildProcessError:
            pass
        self.proc.returncode = -1  # reaped here: Popen must never wait on a recycled pid
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@dataclass
class WarmStarts:
    """The warm processes of one container, refilled after every verified cleanup."""

    templates: list[Template]
    ready: list[WarmProcess] = field(default_factory=list)
    wanted: set[int] = field(default_factory=set)  # indexes into templates
    servers: dict[int, ForkServer] = field(default_factory=dict)  # by template index

    def __post_init__(self) -> None:
        self.wanted = set(range(len(self.templates)))
        for index, template in enumerate(self.templates):
            if template.fork_server:
                self.servers[index] = ForkServer(template.step)

    def pids(self) -> set[int]:
        return {warm.proc.pid for warm in self.ready}

    def refill(self, cwd: str) -> None:
        """Start the wanted warm processes, in ``cwd`` (a fresh run directory).

        Only while no job process exists (after a verified cleanup).
        """
        for index in sorted(self.wanted):
            template = self.templates[index]
            if any(warm.template is template for warm in self.ready):
                continue
            server = self.servers.get(index)
            forked = server.fork(cwd) if server is not None else None
            if forked is not None:
                self.ready.append(WarmProcess(template, *forked))
                continue
            try:
                self.ready.append(_spawn(template, cwd))
            except OSError as exc:
                log(f"warm start of {template.step.argv[0]} failed: {exc}")

    def take(self, step: Step, user: tuple[int, int] = (JOB_UID, JOB_GID)) -> WarmProcess | None:
        """The warm process ``step`` can use, if any; every other one is discarded first."""
        chosen = None
        for warm in self.ready:
            if chosen is None and warm.template.matches(step, user):
                chosen = warm
            else:
                warm.discard()
        self.ready = []
        index = next((i for i, t in enumerate(self.templates) if t.matches(step, user)), None)
        self.wanted = set() if index is None else {index}
        return chosen

    def discard(self) -> None:
        """Discard them all (before a step no warm process serves: compiles, checkers)."""
        for warm in self.ready:
            warm.discard()
        self.ready = []

    def close(self) -> None:
        """Discard them all and stop the fork servers (the agent is exiting)."""
        self.discard()
        for server in self.servers.values():
            server.stop()


def _spawn(template: Template, cwd: str) -> WarmProcess:
    """A launcher: ``<the run's argv but its program> <launcher> <argv fd> <ready fd>``."""
    step = template.step
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    launcher = os.path.join(LAUNCHER_DIR, template.launcher)
    argv = [*step.argv[:-1], launcher, str(read_end), str(ready_w)]
    try:
        proc = spawn(
            argv,
            Jail(step.limits.jail()),
            cwd=cwd,
            env=step.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(read_end, ready_w),
        )
    except BaseException:
        os.close(write_end)
        os.close(ready_r)
        raise
    finally:
        os.close(read_end)
        os.close(ready_w)
    return WarmProcess(template, proc, write_end, ready_r)
