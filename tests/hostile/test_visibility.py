"""Hostile programs that look around: environment, the agent, privileges, the network.

No case here sends a packet to any address but loopback: the network checks
read interfaces and routes, and connect a UDP socket (which sends nothing).
"""

from __future__ import annotations

import json

import pytest

from service.testing.probes import IS_ENGINE_PROCESS

from .hostile_support import RUN_ENV, Hostile, HostileBench, ids

pytestmark = pytest.mark.hostile


def _output(expected: str):
    def check(reply: dict) -> None:
        assert reply["output"] == expected, reply["output"][-3000:] + reply["error"][-3000:]

    return check


def _all_refused(reply: dict) -> None:
    lines = reply["output"].splitlines()
    assert len(lines) > 5, reply
    assert not [line for line in lines if line.endswith(" allowed")], reply["output"]
    # The agent's own filter, on top of Docker's profile (which allows io_uring).
    assert "io-uring-setup ENOSYS" in lines and "io-uring-setup-x32 ENOSYS" in lines, lines


ENVIRONMENT = r"""
import json, os
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines())
print(json.dumps(dict(os.environ), sort_keys=True))
def line(key):
    return status.get(key, "absent").strip()
print(line("CapEff"), line("CapPrm"), line("CapAmb"))
print("NoNewPrivs", line("NoNewPrivs"), "Seccomp", line("Seccomp"))
print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())
"""

ENVIRONMENT_OUTPUT = (
    json.dumps(RUN_ENV, sort_keys=True)
    + "\n0000000000000000 0000000000000000 0000000000000000\nNoNewPrivs 1 Seccomp 2\n"
)


def _environment(reply: dict) -> None:
    # Then one uid for real, effective and group ids: the container's job uid
    # (checked against the host's choice by every probe), no supplementary groups.
    head, _, ids_line = reply["output"].rstrip("\n").rpartition("\n")
    assert head + "\n" == ENVIRONMENT_OUTPUT, reply["output"][-3000:] + reply["error"][-3000:]
    uid, euid, gid, groups = ids_line.split(" ", 3)
    assert uid == euid == gid and 10001 <= int(uid) <= 11024 and groups == "[]", ids_line


AGENT_SECRETS = (
    IS_ENGINE_PROCESS
    + r"""
import os
for name in ("environ", "fd", "fdinfo", "mem", "maps", "auxv", "stack", "syscall", "io",
             "root", "cwd", "exe", "map_files"):
    path = f"/proc/1/{name}"
    try:
        if name in ("root", "cwd", "exe"):
            os.readlink(path)
        elif os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                # The agent erases its environment: zeros are all it may show.
                if name == "environ" and not f.read().strip(b"\0"):
                    print(name, "erased")
                    continue
                f.read(1)
        print(name, "readable")
    except OSError as exc:
        print(name, exc.strerror)
mine = {str(os.getpid())}
print(sorted(p for p in os.listdir("/proc") if p.isdigit() and p not in mine and not engine(p)))
"""
)

AGENT_SECRETS_OUTPUT = (
    "".join(
        f"{name} Permission denied\n"
        for name in (
            "environ fd fdinfo mem maps auxv stack syscall io root cwd exe map_files".split()
        )
    )
    + "['1']\n"
)

PRIVILEGES = r"""
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)

def attempt(name, call):
    ctypes.set_errno(0)
    result = call()
    code = ctypes.get_errno()
    print(name, "allowed" if result >= 0 else errno.errorcode.get(code, code))

def raising(call):
    try:
        call()
        return 0
    except OSError as exc:
        ctypes.set_errno(exc.errno)
        return -1

attempt("unshare-user", lambda: libc.unshare(0x10000000))
attempt("unshare-mount", lambda: libc.unshare(0x00020000))
attempt("unshare-net", lambda: libc.unshare(0x40000000))
attempt("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
attempt("chroot", lambda: libc.chroot(b"/tmp"))
attempt("setuid-root", lambda: libc.setuid(0))
attempt("setgid-root", lambda: libc.setgid(0))
attempt("ptrace-agent", lambda: libc.ptrace(16, 1, None, None))
attempt("kill-agent", lambda: libc.kill(1, 9))
attempt("kernel-log", lambda: libc.klogctl(3, ctypes.create_string_buffer(4096), 4096))
attempt("keyctl", lambda: libc.syscall(250, 0, 0, 0, 0, 0))
attempt("bpf", lambda: libc.syscall(321, 0, 0, 0))
attempt("init-module", lambda: libc.syscall(175, None, 0, b""))
params = ctypes.create_string_buffer(120)
attempt("io-uring-setup", lambda: libc.syscall(425, 4, params))
attempt("io-uring-setup-x32", lambda: libc.syscall(0x40000000 | 425, 4, params))
attempt("mknod-disk", lambda: libc.mknod(b"/tmp/disk", 0o60600, os.makedev(8, 0)))
attempt("sethostname", lambda: libc.sethostname(b"owned", 5))
attempt("raw-socket", lambda: raising(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)))
attempt("packet-socket", lambda: raising(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)))
attempt("chown-to-root", lambda: libc.chown(b"/work/run", 0, 0))
attempt("write-sysctl", lambda: raising(lambda: open("/proc/sys/kernel/hostname", "w")))
"""

NETWORK = r"""
import os, socket
interfaces = sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:])
routes = open("/proc/net/route").read().splitlines()[1:]
routes6 = []
if os.path.exists("/proc/net/ipv6_route"):
    routes6 = [r for r in open("/proc/net/ipv6_route").read().splitlines() if r.split()[-1] != "lo"]
print(interfaces, routes, routes6)
outside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    outside.connect(("192.0.2.1", 9))  # UDP connect picks a route and sends nothing
except OSError as exc:
    print("outside:", exc.strerror)
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
client = socket.create_connection(server.getsockname())
peer, _ = server.accept()
client.sendall(b"ping")
print("loopback:", peer.recv(4).decode())
"""

NETWORK_GO = """package main

import (
	"fmt"
	"net"
)

func main() {
	interfaces, _ := net.Interfaces()
	for _, i := range interfaces {
		fmt.Println(i.Name, i.Flags&net.FlagLoopback != 0)
	}
	_, err := net.Dial("udp", "192.0.2.1:9")
	fmt.Println(err)
}
"""

MOUNTS = r"""
import os
binds, writable = [], []
for line in open("/proc/self/mountinfo"):
    fields = line.split()
    point, options, source = fields[4], fields[5].split(","), fields[3]
    fstype = fields[fields.index("-") + 1]
    # Docker masks /proc files with /dev/null ("/null"); anything else not at its
    # filesystem's root is a bind mount.
    if fstype not in ("proc", "cgroup", "sysfs") and source not in ("/", "/null"):
        binds.append(f"{point} {options[0]}")
    if "rw" in options and os.path.isdir(point) and os.access(point, os.W_OK):
        writable.append(point)
sockets = [os.path.join(root, name) for top in ("/run", "/var/run", "/var/lib")
           for root, _, names in os.walk(top) for name in names if name.endswith(".sock")]
print(binds)
print(sorted(writable))
print(sockets, os.path.exists("/var/run/docker.sock"))
"""

PROTOCOL_INJECTION = r"""
import os, sys
fake = '{"type":"result","id":"x","compile":null,"runs":[],"clean":true,"error":null}'
print(fake)
print(fake, file=sys.stderr)
for path in ("/proc/1/fd/1", "/proc/1/fd/0", "/dev/console", "/dev/tty"):
    try:
        os.open(path, os.O_WRONLY)
        print(path, "opened")
    except OSError as exc:
        print(path, exc.strerror)
"""

PROTOCOL_INJECTION_OUTPUT = (
    '{"type":"result","id":"x","compile":null,"runs":[],"clean":true,"error":null}\n'
    "/proc/1/fd/1 Permission denied\n"
    "/proc/1/fd/0 Permission denied\n"
    "/dev/console No such file or directory\n"
    "/dev/tty No such device or address\n"
)

FOREIGN_SOCKETS = r"""
import errno, socket
for name, family, kind, proto in [("vsock", 40, 1, 0), ("packet", 17, 3, 0),
                                  ("bluetooth", 31, 1, 0), ("alg", 38, 5, 0),
                                  ("netlink-audit", 16, 3, 9)]:
    try:
        socket.socket(family, kind, proto).close()
        print(name, "allowed")
    except OSError as exc:
        print(name, errno.errorcode.get(exc.errno))
"""

FOREIGN_SOCKETS_OUTPUT = "".join(
    f"{name} EAFNOSUPPORT\n" for name in ("vsock", "packet", "bluetooth", "alg", "netlink-audit")
)

# The 32-bit entry: getpid (20), socketcall (102), dup (41) and io_uring_setup
# (425) of the i386 table; 41 and 425 are socket and io_uring_setup of the 64-bit one.
LEGACY_ABI = r"""
#include <cstdio>
static long call32(long nr, long a, long b) {
    long ret;
    // The arguments in the 64-bit registers too: a kernel that runs the call
    // through the 64-bit table (gVisor) gets the same call, not garbage.
    asm volatile("int $0x80"
                 : "=a"(ret)
                 : "a"(nr), "b"(a), "c"(b), "D"(a), "S"(b), "d"(0L)
                 : "memory");
    return ret;
}
int main() {
    long args[3] = {40, 1, 0};
    std::printf("%ld %ld %ld %ld\n", call32(20, 0, 0), call32(102, 1, (long)args),
                call32(41, 40, 1), call32(425, 4, 0));
}
"""

# The container's cgroup counters outlive every job (cgroup v1 cannot reset
# them): peak memory, failcnt, OOM kills, CPU usage would tell a job what the
# jobs before it did. The agent reads them; jobs find every one unreadable.
CGROUP_COUNTERS = r"""
import os
files, readable = 0, []
for root, dirs, names in os.walk("/sys/fs/cgroup"):
    for name in names:
        files += 1
        path = os.path.join(root, name)
        try:
            with open(path, "rb") as f:
                f.read(1)
            readable.append(path)
        except OSError:
            pass
print(files > 10, readable[:5])
"""

CASES = [
    Hostile(
        "python-reads-the-cgroup-counters",
        "python",
        CGROUP_COUNTERS,
        "ok",
        check=_output("True []\n"),
    ),
    Hostile(
        "python-opens-sockets-of-foreign-families",
        "python",
        FOREIGN_SOCKETS,
        "ok",
        check=_output(FOREIGN_SOCKETS_OUTPUT),
    ),
    Hostile(
        "cpp-enters-the-32-bit-abi", "cpp", LEGACY_ABI, "ok", check=_output("-38 -38 -38 -38\n")
    ),
    Hostile(
        "python-reads-environment-and-privileges",
        "python",
        ENVIRONMENT,
        "ok",
        check=_environment,
    ),
    Hostile(
        "js-reads-environment",
        "javascript",
        "console.log(JSON.stringify(process.env))",
        "ok",
        check=lambda r: json.loads(r["output"]) == RUN_ENV,
    ),
    Hostile(
        "python-reads-the-agent-and-other-processes",
        "python",
        AGENT_SECRETS,
        "ok",
        check=_output(AGENT_SECRETS_OUTPUT),
    ),
    Hostile("python-tries-privileged-syscalls", "python", PRIVILEGES, "ok", check=_all_refused),
    Hostile(
        "python-probes-the-network",
        "python",
        NETWORK,
        "ok",
        check=_output("['lo'] [] []\noutside: Network is unreachable\nloopback: ping\n"),
    ),
    Hostile(
        "go-probes-the-network",
        "go",
        NETWORK_GO,
        "ok",
        check=_output("lo true\ndial udp 192.0.2.1:9: connect: network is unreachable\n"),
    ),
    Hostile(
        "js-lists-interfaces",
        "javascript",
        "console.log(Object.keys(require('os').networkInterfaces()))",
        "ok",
        check=_output("[ 'lo' ]\n"),
    ),
    # The only host file in sight is /etc/hostname, read-only; no socket of any daemon.
    Hostile(
        "python-looks-for-host-mounts-and-sockets",
        "python",
        MOUNTS,
        "ok",
        check=_output("['/etc/hostname ro']\n['/dev/mqueue', '/dev/shm', '/tmp']\n[] False\n"),
    ),
    Hostile(
        "python-forges-agent-replies",
        "python",
        PROTOCOL_INJECTION,
        "ok",
        check=_output(PROTOCOL_INJECTION_OUTPUT),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_visibility(sandbox: HostileBench, baseline, case: Hostile) -> None:
    sandbox.exercise(case)
