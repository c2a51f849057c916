"""Start-up and the message loop: one request read, one answer written, in turn.

The agent talks to the host over its own stdin and stdout, one message per
line (see :mod:`agent.protocol`); diagnostics go to stderr. It must be PID 1 of
the container's PID namespace: killing every other process, reaping orphans and
the SIGCHLD wakeup all rest on that.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from agent import environment, jail
from agent.errors import HostGone
from agent.jobs import Agent, Unreadable
from agent.layout import WORK_DIR
from agent.libc import libc
from agent.log import log
from agent.processes import kill_all, signal_everyone
from agent.protocol import (
    PROTOCOL_VERSION,
    HostMessage,
    Message,
    ProtocolError,
    Ready,
    attach,
    attachment_size,
    encode,
    host_message_from,
    parse_line,
)

_M_MMAP_THRESHOLD = -3


def _terminate(signum: int, _frame: FrameType | None) -> None:
    log(f"signal {signum}: killing jobs and exiting")
    signal_everyone()
    os._exit(0)


def setup() -> int:
    """Prepare the process.

    Returns:
        The read end of the SIGCHLD wakeup pipe.
    """
    os.umask(0o022)
    # A fixed mmap threshold returns big message buffers to the kernel, which
    # keeps the agent small and with it the floor of every job's ru_maxrss.
    libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _terminate)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    # A tmpfs mounts world-writable; only the agent may create entries in /work.
    os.chmod(WORK_DIR, 0o755)
    return wake_read


def send(message: Message, fd: int = 1) -> None:
    """Write one message whole.

    Stdout is unbuffered (-u): one write() may take only part of a large reply
    when a signal (SIGCHLD from a job process dying just then) interrupts it, and
    the rest would be lost. So loop until every byte is out.

    Raises:
        HostGone: the write failed: nobody reads the other end any more.
    """
    data = memoryview(encode(message))
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError as exc:
        raise HostGone from exc


def serve(agent: Agent) -> None:
    """Answer requests until stdin closes.

    Raises:
        HostGone: stdout closed.
    """
    send(Ready(PROTOCOL_VERSION))
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            log("stdin closed: exiting")
            return
        if not line.strip():
            continue
        request: HostMessage | Unreadable
        try:
            request = _read_message(line)
        except ProtocolError as exc:
            # Only what the error says: its traceback holds the raw message.
            request = Unreadable.from_error(exc)
        finally:
            # Everything a job process is forked with counts in its ru_maxrss:
            # drop the raw message before forking.
            line = b""
        # The reply is not kept: with its output it would be part of the next fork.
        send(agent.handle(request))
        cleaned = agent.pay_cleanup()
        if cleaned is not None:
            send(cleaned)


def _read_message(line: bytes) -> HostMessage:
    """The message ``line`` begins, with the program bytes that follow it on stdin.

    Raises:
        ProtocolError: malformed, or stdin ended before the program did.
    """
    obj = parse_line(line)
    size = attachment_size(obj)
    if size is not None:
        attach(obj, sys.stdin.buffer.read(size))
    return host_message_from(obj)


def main() -> int:
    """Run the agent; the process's exit code."""
    if os.getpid() != 1:
        log("refusing to run: the agent must be PID 1 of its own PID namespace")
        return 2
    log(jail.prepare())
    agent = Agent(setup())
    # Every module has read its configuration by now (at import, and the warm starts').
    environment.erase()
    if environment.visible():
        log("the environment is still readable in /proc/1/environ")
    if not agent.reset():
        log("start-up: the container was not clean")
    try:
        serve(agent)
    except HostGone:
        log("stdout closed: exiting")
    agent.warm.close()
    kill_all()
    return 0
