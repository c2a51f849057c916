"""The job's seccomp filter, installed for real in a forked child of the test process."""

from __future__ import annotations

import ctypes
import errno
import os
import socket

import pytest

from agent import seccomp

PR_SET_NO_NEW_PRIVS = 38
AF_VSOCK, AF_PACKET, AF_BLUETOOTH, AF_ALG = 40, 17, 31, 38
NETLINK_AUDIT = 9


def in_filtered_child(probe) -> int:
    """Run ``probe()`` in a child under the job filter; its return value is the exit code."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            seccomp.install_job_filter()
            code = probe()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def socket_errno(family: int, kind: int = socket.SOCK_STREAM, proto: int = 0) -> int:
    try:
        socket.socket(family, kind, proto).close()
    except OSError as exc:
        return exc.errno or 1
    return 0


@pytest.mark.parametrize(
    ("family", "kind", "proto"),
    [
        (AF_VSOCK, socket.SOCK_STREAM, 0),
        (AF_PACKET, socket.SOCK_RAW, 0),
        (AF_BLUETOOTH, socket.SOCK_STREAM, 0),
        (AF_ALG, socket.SOCK_SEQPACKET, 0),
        (socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT),
    ],
)
def test_families_with_no_use_in_the_sandbox_are_refused(family, kind, proto):
    assert in_filtered_child(lambda: socket_errno(family, kind, proto)) == errno.EAFNOSUPPORT


@pytest.mark.parametrize(
    ("family", "kind", "proto"),
    [
        (socket.AF_UNIX, socket.SOCK_STREAM, 0),
        (socket.AF_INET, socket.SOCK_STREAM, 0),
        (socket.AF_INET6, socket.SOCK_DGRAM, 0),
        (socket.AF_NETLINK, socket.SOCK_RAW, 0),  # NETLINK_ROUTE: listing interfaces
    ],
)
def test_local_families_still_work(family, kind, proto):
    assert in_filtered_child(lambda: socket_errno(family, kind, proto)) == 0


def test_socketpair_is_unix_only():
    def probe() -> int:
        a, b = socket.socketpair(socket.AF_UNIX)
        a.close()
        b.close()
        libc = ctypes.CDLL(None, use_errno=True)
        fds = (ctypes.c_int * 2)()
        if libc.socketpair(AF_VSOCK, socket.SOCK_STREAM, 0, fds) == 0:
            return 0
        return ctypes.get_errno()

    assert in_filtered_child(probe) == errno.EAFNOSUPPORT


def test_io_uring_is_enosys_and_ordinary_calls_pass():
    def probe() -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        if os.getpid() <= 0 or not os.listdir("/"):
            return 1
        if libc.syscall(425, 8, None) != -1:  # io_uring_setup
            return 2
        return ctypes.get_errno()

    assert in_filtered_child(probe) == errno.ENOSYS


def test_x32_numbers_are_refused():
    if os.uname().machine != "x86_64":
        pytest.skip("x32 is an x86-64 ABI")

    def probe() -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(0x40000000 | 39) != -1:  # x32 getpid
            return 1
        return ctypes.get_errno()

    assert in_filtered_child(probe) == errno.ENOSYS


CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000


@pytest.mark.parametrize("flags", [CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET])
def test_no_new_namespace_by_unshare_or_clone(flags):
    # Docker's profile refuses these too; gVisor does not apply it inside its sandbox.
    def probe() -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(flags) != -1 or ctypes.get_errno() != errno.EPERM:
            return 1
        # SIGCHLD as the exit signal: a fork that asks for a new namespace.
        if libc.syscall(seccomp._native().clone, flags | 17, None, None, None, None) != -1:
            return 2
        return ctypes.get_errno()

    assert in_filtered_child(probe) == errno.EPERM


def test_clone3_is_enosys_and_threads_and_forks_still_start():
    import threading

    def probe() -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(seccomp.CLONE3, None, 0) != -1 or ctypes.get_errno() != errno.ENOSYS:
            return 1
        results: list[int] = []
        thread = threading.Thread(target=results.append, args=(7,))
        thread.start()  # libc falls back from clone3 to clone
        thread.join()
        pid = os.fork()
        if pid == 0:
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        return 0 if results == [7] and os.waitstatus_to_exitcode(status) == 3 else 4

    assert in_filtered_child(probe) == 0


def test_mount_chroot_and_the_kernel_log_are_refused():
    def probe() -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        calls = [
            lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
            lambda: libc.chroot(b"/tmp"),
            lambda: libc.klogctl(3, ctypes.create_string_buffer(64), 64),
            lambda: libc.setns(0, 0),
        ]
        for call in calls:
            if call() != -1 or ctypes.get_errno() != errno.EPERM:
                return 1
        return 0

    assert in_filtered_child(probe) == 0


def test_device_nodes_are_refused_and_fifos_still_made(tmp_path):
    def probe() -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        for mode in (0o060600, 0o020600):  # block, character
            if libc.mknod(str(tmp_path / f"dev{mode}").encode(), mode, os.makedev(8, 0)) != -1:
                return 1
            if ctypes.get_errno() != errno.EPERM:
                return 2
        os.mkfifo(tmp_path / "fifo")
        return 0

    assert in_filtered_child(probe) == 0
    assert (tmp_path / "fifo").exists()


def test_every_jump_lands_inside_the_program():
    for arch in seccomp._ARCHES.values():
        insns = seccomp.program(arch)
        for index, (code, jt, jf, _) in enumerate(insns):
            if code != 0x06:
                assert index + 1 + max(jt, jf) < len(insns)
        assert insns[-1] == (0x06, 0, 0, 0x7FFF0000)  # falls through to allow
