"""The job's own seccomp filter: no io_uring.

Docker 20.10's default seccomp profile still allows io_uring, whose kernel code
has been the way into many privilege escalations (later Docker profiles drop
it). Every job process gets one more filter, stacked on Docker's, that answers
ENOSYS to io_uring and allows everything else; runtimes fall back to plain
reads and writes. io_uring_setup, _enter and _register are 425-427 on every
architecture; the x32 bit is masked off so that ABI cannot reach them either.
"""

from __future__ import annotations

import ctypes
import errno
import os

from agent.libc import libc

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


def install_job_filter() -> None:
    """Stack the filter on the calling process (and everything it will fork).

    Raises:
        OSError: the kernel refused it.
    """
    # no_new_privs is already set (Docker's no-new-privileges), as the kernel requires.
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(_JOB_FILTER), 0, 0):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot install the job's seccomp filter: {os.strerror(code)}")
