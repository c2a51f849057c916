"""Hostile programs that leave things to outlive their processes, and what a job may tell.

Descriptors parked in flight: a program sends both ends of a socketpair over
each other (``SCM_RIGHTS``) with everything it wants kept alive, and exits. No
process holds the cycle; only the kernel's unix-socket collector frees it, and
the agent makes it run (agent/leftovers.py). The next job on the same container
must find no listener to connect to and the tmpfs space back. gVisor's kernel
has no such collector: there the agent cannot prove the container clean, and it
is replaced (GVISOR in hostile_support.py).

What a program sees of itself must be what a fresh process sees, warm start or
not: its streams, its signal dispositions.
"""

from __future__ import annotations

import base64

import pytest

from engine_client import build_request
from service.testing.client import send

from .hostile_support import FollowUp, Hostile, HostileBench, ids

pytestmark = pytest.mark.hostile

PORT = 47311
ABSTRACT = "code-engine-parked"

# Unlinked files (of 15 MB: the file size limit is 16) of 45 MB in /tmp, 15 MB in
# /dev/shm and 150 MB in /work/run, a listening TCP socket, an abstract unix
# listener and a pipe, all in flight.
PYTHON_PARKS = rf"""
import os, socket
held = []
block = b"x" * (1 << 20)
for place, files in (("/tmp", 3), ("/dev/shm", 1), ("/work/run", 10)):
    for n in range(files):
        path = os.path.join(place, f"parked{{n}}")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        for _ in range(15):
            os.write(fd, block)
        os.unlink(path)
        held.append(fd)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", {PORT}))
listener.listen()
abstract = socket.socket(socket.AF_UNIX)
abstract.bind("\0{ABSTRACT}")
abstract.listen()
held += [listener.fileno(), abstract.fileno(), *os.pipe()]
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [a.fileno(), b.fileno(), *held])
socket.send_fds(b, [b"x"], [a.fileno(), b.fileno()])
print("parked")
"""

CPP_PARKS = rf"""
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

static void send_fds(int via, const std::vector<int>& fds) {{
    char byte = 'x';
    iovec iov{{&byte, 1}};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    msghdr msg{{}};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    if (sendmsg(via, &msg, 0) != 1) std::perror("sendmsg");
}}

int main() {{
    int file = open("/tmp/parked", O_CREAT | O_RDWR, 0600);
    std::vector<char> block(1 << 20, 'x');
    for (int i = 0; i < 15; i++) write(file, block.data(), block.size());
    unlink("/tmp/parked");
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{{}};
    address.sin_family = AF_INET;
    address.sin_port = htons({PORT});
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (sockaddr*)&address, sizeof address) || listen(listener, 1))
        std::perror("listen");
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    send_fds(pair[0], {{pair[0], pair[1], file, listener}});
    send_fds(pair[1], {{pair[0], pair[1]}});
    std::puts("parked");
}}
"""

# The next job: nothing of the last one to connect to, and its memory all there.
NOTHING_REACHABLE = rf"""
import socket
for family, address in ((socket.AF_INET, ("127.0.0.1", {PORT})),
                        (socket.AF_UNIX, "\0{ABSTRACT}")):
    with socket.socket(family) as s:
        try:
            s.connect(address)
            print("connected to", address)
        except OSError as exc:
            print(type(exc).__name__)
room = bytearray(200 << 20)
room[::4096] = b"y" * len(room[::4096])
print(len(room) >> 20, "MB")
"""
NOTHING_REACHABLE_OUTPUT = "ConnectionRefusedError\nConnectionRefusedError\n200 MB\n"

# A fresh python3 ignores SIGPIPE and SIGXFSZ (the interpreter does at start),
# blocks nothing; its standard streams are the job's pipes, none seekable.
PYTHON_SEES_ITSELF = r"""
import signal, sys
ignored = [s.name for s in signal.valid_signals() if signal.getsignal(s) == signal.SIG_IGN]
print(ignored, sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
print(sys.stdin.seekable(), sys.stdout.seekable(), sys.stderr.seekable())
print(sys.stdin.buffer.raw.name, sys.stdout.buffer.raw.name, sys.stderr.errors)
"""
PYTHON_SEES_ITSELF_OUTPUT = (
    "['SIGPIPE', 'SIGXFSZ'] []\nFalse False False\n<stdin> <stdout> backslashreplace\n"
)

# A compiled program starts with every signal at its default and none blocked
# (the container's first process inherits signal 32 ignored: not the job). Asked
# of the kernel itself: the C library hides its own signals (32 and 33).
CPP_SEES_ITSELF = r"""
#include <csignal>
#include <cstdio>
#include <sys/syscall.h>
#include <unistd.h>
struct kernel_sigaction { void* handler; unsigned long flags; void* restorer; unsigned long mask; };
int main() {
    int ignored = 0;
    for (int sig = 1; sig <= 64; sig++) {
        kernel_sigaction old{};
        if (syscall(SYS_rt_sigaction, sig, nullptr, &old, 8) == 0 && old.handler == SIG_IGN) {
            std::printf("ignored %d\n", sig);
            ignored++;
        }
    }
    unsigned long blocked = 1;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &blocked, 8);
    std::printf("%d ignored, mask %lx\n", ignored, blocked);
}
"""
CPP_SEES_ITSELF_OUTPUT = "0 ignored, mask 0\n"

# A warm Node's clocks count from its program's arrival, consistently.
# Date.now() read between two readings of performance.now(): a pause between
# the reads (under load, under gVisor's ptrace) widens the bracket, not the drift.
JS_CLOCKS = (
    "const before = performance.now();\n"
    "const wall = Date.now() - performance.timeOrigin;\n"
    "const after = performance.now();\n"
    "const drift = Math.max(before - wall, wall - after, 0);\n"
    "console.log(process.uptime() < 5, performance.now() < 5000, drift < 50);\n"
)

CASES = [
    Hostile(
        "python-parks-descriptors-in-flight",
        "python",
        PYTHON_PARKS,
        "ok",
        check=lambda r: r["output"] == "parked\n",
        then=FollowUp("python", NOTHING_REACHABLE, NOTHING_REACHABLE_OUTPUT),
    ),
    Hostile(
        "cpp-parks-descriptors-in-flight",
        "cpp",
        CPP_PARKS,
        "ok",
        check=lambda r: r["output"] == "parked\n",
        then=FollowUp("python", NOTHING_REACHABLE, NOTHING_REACHABLE_OUTPUT),
    ),
    Hostile(
        "python-sees-itself-as-a-fresh-process",
        "python",
        PYTHON_SEES_ITSELF,
        "ok",
        check=lambda r: r["output"] == PYTHON_SEES_ITSELF_OUTPUT,
    ),
    Hostile(
        "js-clocks-count-from-the-program",
        "javascript",
        JS_CLOCKS,
        "ok",
        check=lambda r: r["output"] == "true true true\n",
        # The first run leaves a warm Node for the next JavaScript run: this one.
        then=FollowUp("javascript", JS_CLOCKS, "true true true\n"),
    ),
    Hostile(
        "cpp-sees-itself-as-a-fresh-process",
        "cpp",
        CPP_SEES_ITSELF,
        "ok",
        check=lambda r: r["output"] == CPP_SEES_ITSELF_OUTPUT,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_in_flight(sandbox: HostileBench, baseline, case: Hostile) -> None:
    sandbox.exercise(case)


# A checker that leaves a semaphore set and a shared memory segment at each test:
# removed as their creator (the tool user) by the cleanup, as a job's are.
IPC_LEAVING_CHECKER = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
assert libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600) >= 0
assert libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600) >= 0
sys.exit(0 if open(sys.argv[2]).read() == open(sys.argv[3]).read() else 1)
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_checkers_ipc_objects_do_not_cost_its_container(sandbox: HostileBench, baseline) -> None:
    before = sandbox.container()
    tests = [{"stdin": b64(f"{n}\n"), "expected_output": b64(f"{n}\n")} for n in range(3)]
    request = build_request(
        "python",
        "print(input())",
        tests=tests,
        checker={"language": "python", "code": b64(IPC_LEAVING_CHECKER)},
    )
    reply = send(sandbox.daemon.nats_url, request, subject="problems.execute.request")
    assert [t["status"] for t in reply["tests"]] == ["accepted"] * 3, reply
    sandbox.assert_clean()
    assert sandbox.container() == before, "the checker's IPC objects cost the container"
