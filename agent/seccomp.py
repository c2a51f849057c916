"""The job's own seccomp filter, stacked on Docker's default profile.

Docker's profile decides most of what a job may call; this filter closes what it
leaves open that a job in a networkless sandbox has no use for. Each refusal,
with its reason:

- **Any ABI but the native one** (the 32-bit ``int 0x80`` entry, x32 on x86-64,
  32-bit ARM on arm64): Docker 20.10's profile allows them, and their syscall
  numbers and multiplexed calls (``socketcall``, ``ipc``) get past filters
  written for the 64-bit table, this one included. No runtime of ours uses them.
  Answered ENOSYS.
- **Socket families other than Unix, IPv4, IPv6 and routing netlink**: the
  container's network namespace has only loopback, but some families belong to
  no network namespace at all: ``AF_VSOCK`` reaches the hypervisor of a VM host,
  and others (Bluetooth, CAN, packet, ...) reach kernel code no job needs. Unix
  sockets serve local IPC (Python's multiprocessing), IPv4/IPv6 loopback serves
  programs that talk to themselves, and ``NETLINK_ROUTE`` is how libc, Go and
  Node list network interfaces. Answered EAFNOSUPPORT, as a kernel without the
  family would.
- **io_uring** (setup, enter, register): allowed by Docker 20.10's profile
  (later profiles drop it), and its kernel code has been the way into many
  privilege escalations. Answered ENOSYS; runtimes fall back to plain reads and
  writes.

- **New namespaces and the calls they would unlock** (``unshare``, ``setns``,
  ``clone`` with a ``CLONE_NEW*`` flag, ``mount``, ``umount2``, ``pivot_root``,
  ``chroot``, and ``syslog``): Docker's profile refuses them, but gVisor's
  ``runsc`` does not apply the container's profile inside its sandbox (its
  ``--oci-seccomp`` would, but this runsc turns the profile's clone3 ENOSYS
  into EPERM and no thread could start). There a job could unshare a user
  namespace and hold every capability in it. Refused here on both tiers,
  EPERM, as Docker's profile answers them. ``clone3`` is ENOSYS, as in Docker's
  profile: its flags are in memory a filter cannot read, and libc falls back
  to ``clone``, whose flags it can.

- **Device nodes** (``mknod``/``mknodat`` of a character or block device):
  without ``CAP_MKNOD`` the kernel refuses them, but gVisor's tmpfs makes them
  for anyone. FIFOs and sockets stay. EPERM.

Kept, with the reason: ``keyctl``/``add_key``/``request_key``, ``bpf`` and
``ptrace`` of others are refused by Docker's profile (and, under gVisor, by
the job's lack of capabilities and gVisor's own kernel). File locks (``flock``,
``fcntl`` locks) stay: Go's build cache takes them, and a job can lock only files
in its own container's filesystems (the image's files are read-only and each
container's overlay has inodes of its own).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from dataclasses import dataclass

from agent.libc import libc

_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
# low 32 bits of args[0], args[1], args[2] (little endian)
_NR, _ARCH, _ARG0, _ARG1, _ARG2 = 0, 4, 16, 24, 32

# BPF instructions.
_LD_W_ABS = 0x20
_JSET_K = 0x45
_AND_K = 0x54
_JEQ_K = 0x15
_JGE_K = 0x35
_JGT_K = 0x25
_RET_K = 0x06

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
NETLINK_ROUTE = 0
IO_URING_FIRST, IO_URING_LAST = 425, 427  # the same on every architecture
CLONE3 = 435  # the same on every architecture
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
CLONE_NEW_FLAGS |= 0x20000000 | 0x40000000
S_IFMT, S_IFCHR, S_IFBLK = 0o170000, 0o020000, 0o060000


@dataclass(frozen=True, slots=True)
class _Arch:
    audit: int  # AUDIT_ARCH_* of the native ABI
    socket: int
    socketpair: int
    max_native: int  # numbers at or above it are another ABI (x32) or not syscalls
    clone: int
    # unshare, setns, mount, umount2, pivot_root, chroot, syslog
    namespace_calls: tuple[int, ...]
    mknod: int | None  # mode in args[1]; None where the ABI has only mknodat
    mknodat: int  # mode in args[2]


_ARCHES = {
    "x86_64": _Arch(
        audit=0xC000003E,
        socket=41,
        socketpair=53,
        max_native=0x40000000,
        clone=56,
        namespace_calls=(272, 308, 165, 166, 155, 161, 103),
        mknod=133,
        mknodat=259,
    ),
    "aarch64": _Arch(
        audit=0xC00000B7,
        socket=198,
        socketpair=199,
        max_native=0x40000000,
        clone=220,
        namespace_calls=(97, 268, 40, 39, 41, 51, 116),
        mknod=None,
        mknodat=33,
    ),
}


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


Insn = tuple[int, str | int, str | int, int]  # code, jump if true, jump if false, k


def _device_node(mode_arg: int) -> list[Insn | str]:
    """Refuse a character or block device whose mode is the argument at ``mode_arg``."""
    return [
        (_LD_W_ABS, 0, 0, mode_arg),
        (_AND_K, 0, 0, S_IFMT),
        (_JEQ_K, "eperm", 0, S_IFCHR),
        (_JEQ_K, "eperm", "allow", S_IFBLK),
    ]


def program(arch: _Arch) -> list[tuple[int, int, int, int]]:
    """The filter for ``arch`` as BPF instructions, jumps resolved."""
    listing: list[Insn | str] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 0, "enosys", arch.audit),
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE_K, "enosys", 0, arch.max_native),
        (_JEQ_K, "socket", 0, arch.socket),
        (_JEQ_K, "socketpair", 0, arch.socketpair),
        (_JEQ_K, "clone", 0, arch.clone),
        (_JEQ_K, "enosys", 0, CLONE3),
        *[(_JEQ_K, "eperm", 0, nr) for nr in arch.namespace_calls],
        *([(_JEQ_K, "mknod", 0, arch.mknod)] if arch.mknod is not None else []),
        (_JEQ_K, "mknodat", 0, arch.mknodat),
        (_JGE_K, 0, "allow", IO_URING_FIRST),
        (_JGT_K, "allow", "enosys", IO_URING_LAST),
        "clone",
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JSET_K, "eperm", "allow", CLONE_NEW_FLAGS),
        "mknod",
        *_device_node(_ARG1),
        "mknodat",
        *_device_node(_ARG2),
        "socket",
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JEQ_K, "allow", 0, AF_UNIX),
        (_JEQ_K, "allow", 0, AF_INET),
        (_JEQ_K, "allow", 0, AF_INET6),
        (_JEQ_K, 0, "eafnosupport", AF_NETLINK),
        (_LD_W_ABS, 0, 0, _ARG2),
        (_JEQ_K, "allow", "eafnosupport", NETLINK_ROUTE),
        "socketpair",
        (_LD_W_ABS, 0, 0, _ARG0),
        (_JEQ_K, "allow", "eafnosupport", AF_UNIX),
        "enosys",
        (_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.ENOSYS),
        "eafnosupport",
        (_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT),
        "eperm",
        (_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EPERM),
        "allow",
        (_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    labels: dict[str, int] = {}
    insns: list[Insn] = []
    for item in listing:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)

    def offset(target: str | int, at: int) -> int:
        if isinstance(target, int):
            return target
        jump = labels[target] - at - 1
        assert 0 <= jump < 256, f"jump to {target} out of range"
        return jump

    return [(code, offset(jt, i), offset(jf, i), k) for i, (code, jt, jf, k) in enumerate(insns)]


def _native() -> _Arch:
    machine = platform.machine()
    if machine not in _ARCHES:
        raise OSError(errno.ENOSYS, f"no job seccomp filter for architecture {machine}")
    return _ARCHES[machine]


def _compile(insns: list[tuple[int, int, int, int]]) -> _SockFprog:
    filters = (_SockFilter * len(insns))(*(_SockFilter(*insn) for insn in insns))
    return _SockFprog(len(insns), filters)


# Built once: the forked child only hands it to the kernel.
_JOB_FILTER = _compile(program(_native()))


def install_job_filter() -> None:
    """Stack the filter on the calling process (and everything it will fork).

    Raises:
        OSError: the kernel refused it.
    """
    # no_new_privs is already set (Docker's no-new-privileges), as the kernel requires.
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(_JOB_FILTER), 0, 0):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot install the job's seccomp filter: {os.strerror(code)}")
