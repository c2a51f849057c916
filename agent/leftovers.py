"""What a job leaves behind that outlives its processes, and proving none is left.

Killing every job process and wiping the directories a job writes removes what
a job holds through processes and names. Two things outlive both:

- Descriptors in flight. A unix socket carries descriptors (``SCM_RIGHTS``), its
  own and its peer's included: a job that sends both ends of a socketpair over
  each other and exits leaves a cycle no process holds, and everything in it
  stays alive. Seen: a listening TCP port and an abstract unix socket the next
  job could connect to, pipes, and unlinked files whose pages kept 45 MB of a
  tmpfs (which the container's memory limit counts). Linux frees such a cycle
  only when its unix-socket collector runs, and it runs when a unix socket is
  released while descriptors are in flight: :func:`release` releases one and
  waits for the job's sockets to go (some 7 ms here). gVisor's kernel has no
  such collector; there the sockets stay, :func:`residue` says so, and the
  container is replaced.
- Space on a tmpfs that no name accounts for: a file unlinked while something
  (a descriptor in flight, say) still held it.

A TCP connection the job closed may wait in TIME_WAIT for up to a minute: it
holds no data and accepts nothing, only its ports show in /proc/net/tcp, so it
is not counted (a job that talks to itself over loopback keeps its container).

System V IPC objects are the third kind (:mod:`agent.ipc`).

:func:`residue` lists what is left, for the log: any unix socket but the
engine's own, any inet socket in use (the agent uses none, and a job's TCP
connection still open or listening would reach the next job), and tmpfs
space or inodes beyond what the names on it hold.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Callable

UNIX_TABLE = "/proc/net/unix"
INET_TABLES = tuple(
    f"/proc/net/{name}" for name in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite")
)
SOCKSTAT = ("/proc/net/sockstat", "/proc/net/sockstat6")
# Every tmpfs a job can write. /dev/mqueue is no tmpfs: it is wiped, and its
# queues' memory is the job user's own quota.
TMPFS_MOUNTS = ("/work", "/tmp", "/dev/shm")
# Space a tmpfs may use beyond what its names hold. Linux's tmpfs counts whole
# pages, as the names' st_blocks do: they agree exactly. gVisor's counts a few
# kB more (6.5 kB with a Go build kept). No process is left when this is read,
# so only a descriptor in flight can hold a nameless file, and the socket check
# finds its holder whatever the file's size: this check only backs that one up.
TMPFS_SLACK = 1 << 20
# How long the collector may take to free the job's sockets, and the files they held.
RELEASE_SECONDS = 2.0
_POLL_SECONDS = 0.002


# The inodes of the engine's own unix sockets (a fork server's control pair),
# registered by whoever makes them: nothing else in the container is the engine's.
ENGINE_SOCKETS: set[int] = set()


def socket_inode(sock: socket.socket) -> int:
    """The inode by which the socket tables name ``sock``."""
    return os.fstat(sock.fileno()).st_ino


def unix_sockets(table: str = UNIX_TABLE) -> set[int] | None:
    """The inode of every unix socket of the container's network namespace; None: unreadable."""
    try:
        with open(table) as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return None
    # Num RefCount Protocol Flags Type St Inode [Path]
    return {int(row.split()[6]) for row in rows if len(row.split()) > 6}


def stray_unix_sockets() -> set[int]:
    """Unix sockets that are not the engine's: a job's, held in flight or by a process."""
    return (unix_sockets() or set()) - ENGINE_SOCKETS


def _sockstat_count(paths: tuple[str, ...] = SOCKSTAT) -> int | None:
    """The namespace's inet sockets in use, by its counters; None where there are none.

    Reading /proc/net/tcp walks the kernel's whole established-connections hash,
    every namespace's, even when this one has no socket: 5.7 ms a cleanup here.
    The counters are the namespace's own and cost a tenth of a millisecond.
    (``orphan`` and ``alloc`` count the whole host, ``tw`` connections in
    TIME_WAIT: all left out.)
    """
    count = 0
    try:
        for path in paths:
            with open(path) as f:
                for line in f:
                    words = line.split()
                    for key, value in zip(words[1::2], words[2::2], strict=False):
                        if key == "inuse":
                            count += int(value)
    except (OSError, ValueError):
        return None
    return count


def inet_sockets(tables: tuple[str, ...] = INET_TABLES) -> int:
    """How many TCP, UDP and raw sockets the container's network namespace has in use.

    From its counters where the kernel keeps them (Linux), else from its socket
    tables (gVisor's, which are small). Connections in TIME_WAIT are not counted.
    """
    counted = _sockstat_count()
    if counted is not None:
        return counted
    count = 0
    for table in tables:
        try:
            with open(table) as f:
                rows = [row.split() for row in f.read().splitlines()[1:] if row.strip()]
        except OSError:
            continue
        # sl local_address rem_address st ...: st 06 is TIME_WAIT (TCP's tables only).
        count += sum(1 for row in rows if not (table.endswith(("tcp", "tcp6")) and row[3] == "06"))
    return count


def collect_garbage() -> None:
    """Make the kernel's unix-socket collector run: release a unix socket."""
    try:
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()
    except OSError:
        pass


def release(limit: float = RELEASE_SECONDS) -> bool:
    """Free what a job left in flight, once no job process is alive; True when none is left.

    Costs one read of the socket table when the job left no socket, which is
    the usual case. Otherwise the collector frees the job's unix sockets, and
    the kernel releases what they held just after (listeners, files): both are
    waited for, each up to ``limit`` seconds (a loaded host's kernel workers
    took over half a second).
    """
    if not stray_unix_sockets():
        return True  # nothing in flight: an inet socket left now is no cycle's
    if not _wait(lambda: not stray_unix_sockets(), limit, collect=True):
        return False
    return _wait(lambda: not inet_sockets() and not tmpfs_residue(), limit)


def _wait(done: Callable[[], bool], limit: float, *, collect: bool = False) -> bool:
    """Poll ``done`` until it holds or ``limit`` seconds pass (making the collector run)."""
    end = time.monotonic() + limit
    while True:
        if collect:
            collect_garbage()
        if done():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(_POLL_SECONDS)


def _named_usage(top: str) -> tuple[int, int]:
    """Bytes of storage and inodes the entries under ``top`` (itself included) account for.

    Never follows a symlink; a mount point under ``top`` (none is expected) is not entered.
    """
    device = os.lstat(top).st_dev
    used, inodes = 0, 1
    pending = [top]
    seen: set[int] = set()
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_dev != device:
                continue
            if info.st_ino not in seen:  # hard links count once
                seen.add(info.st_ino)
                inodes += 1
                used += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
    return used, inodes


def tmpfs_residue(mounts: tuple[str, ...] = TMPFS_MOUNTS) -> list[str]:
    """Each tmpfs whose used space or inodes exceed what its names hold."""
    problems = []
    for mount in mounts:
        try:
            fs = os.statvfs(mount)
        except OSError:
            continue
        named_bytes, named_inodes = _named_usage(mount)
        used_bytes = (fs.f_blocks - fs.f_bfree) * fs.f_frsize
        if used_bytes > named_bytes + TMPFS_SLACK:
            problems.append(f"{mount} uses {used_bytes - named_bytes} bytes no file name holds")
        # f_files is 0 where the file system does not count inodes.
        if fs.f_files and fs.f_files - fs.f_ffree > named_inodes:
            extra = fs.f_files - fs.f_ffree - named_inodes
            problems.append(f"{mount} uses {extra} inodes no file name holds")
    return problems


def residue() -> list[str]:
    """What a job left that outlives its processes and names; empty when nothing."""
    problems = []
    if strays := stray_unix_sockets():
        problems.append(f"unix sockets {sorted(strays)}")
    if count := inet_sockets():
        problems.append(f"{count} inet sockets")
    return problems + tmpfs_residue()
