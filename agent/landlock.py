"""What a job may not read: the container's cgroup files, through Landlock.

The container's cgroup counters (peak memory, failcnt and OOM-kill counts, CPU
usage) outlive every job, and cgroup v1 cannot reset them: a job that read
them would learn what earlier jobs on this container did, and one test of a
problems request what the previous test did. The agent reads them (as root,
for the facts it reports); jobs must not. Landlock, the unprivileged
self-sandboxing LSM, lets a process give up access to paths for itself and
everything it starts; the agent builds one ruleset at start-up and every job
process restricts itself with it between fork and exec.

The ruleset handles only reading (``READ_FILE``, ``READ_DIR``): writing is
already closed by the read-only root, the capped tmpfs mounts and the uid, and
executing is the jail's business. Landlock grants beneath the paths a rule
names, so the grant is every top-level path but ``/sys``, every entry of
``/sys`` but ``/sys/fs``, and every entry of ``/sys/fs`` but ``cgroup``; plus
directory listing everywhere (the names of cgroup files are no secret, their
contents are).

Where the kernel has no Landlock (before 5.13, or gVisor, whose cgroup files
are its own), :func:`build` returns None and jobs read what they could before;
docs/explanation/security.md lists that as a remaining channel.
"""

from __future__ import annotations

import ctypes
import os

from agent.libc import libc

_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_RULE_PATH_BENEATH = 1
_CREATE_RULESET_VERSION = 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3

HIDDEN = "/sys/fs/cgroup"


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when it has none."""
    version = libc.syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    return max(0, int(version))


def build(hidden: str = HIDDEN) -> int | None:
    """A ruleset fd that lets a job read everything but what lies beneath ``hidden``.

    Returns None where Landlock is not available. The fd is close-on-exec: only
    the forked job, before its exec, uses it.

    Raises:
        OSError: Landlock is there but refused a rule (a bug, not a host trait).
    """
    if abi_version() < 1:
        return None
    attr = _RulesetAttr(READ_FILE | READ_DIR)
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        return None
    os.set_inheritable(ruleset, False)
    try:
        _allow(ruleset, "/", READ_DIR)
        for path in granted(hidden):
            is_dir = os.path.isdir(path)
            _allow(ruleset, path, READ_FILE | READ_DIR if is_dir else READ_FILE)
    except BaseException:
        os.close(ruleset)
        raise
    return int(ruleset)


def granted(hidden: str) -> list[str]:
    """The paths whose subtrees stay readable: the siblings of ``hidden`` and of its parents.

    Plus every mount point elsewhere: a rule sits on an inode, and a file reached
    through a kernel-internal mount of the same filesystem (``mq_open`` opens
    message queues through the IPC namespace's own mount of mqueue, not through
    /dev/mqueue) is checked up to that filesystem's root, never crossing into the
    tree a rule above the mount point covers.
    """
    paths = [m for m in _mount_points() if not _within(hidden, m) and not _within(m, hidden)]
    parent = "/"
    for part in hidden.strip("/").split("/"):
        for name in sorted(os.listdir(parent)):
            path = os.path.join(parent, name)
            # A link is granted through its target (Landlock checks the resolved
            # path): granting it here could grant the hidden tree itself.
            if name != part and not os.path.islink(path):
                paths.append(path)
        parent = os.path.join(parent, part)
    return paths


def _within(path: str, ancestor: str) -> bool:
    """``path`` is ``ancestor`` or lies beneath it."""
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def _mount_points() -> list[str]:
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    # Field 5 is the mount point, with spaces and the like octal-escaped.
    points = {line.split(" ")[4].encode().decode("unicode_escape") for line in lines}
    return sorted(points)


def restrict(ruleset: int) -> None:
    """Restrict the calling process (and all it will start) to the ruleset. In the job's child.

    Raises:
        OSError: the kernel refused (no_new_privs is required, and Docker's
            no-new-privileges sets it).
    """
    if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot restrict the job with Landlock: {os.strerror(code)}")


def _allow(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # gone since it was listed: nothing to grant
    try:
        rule = _PathBeneathAttr(access, fd)
        if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0):
            code = ctypes.get_errno()
            raise OSError(code, f"Landlock refused a rule for {path}: {os.strerror(code)}")
    finally:
        os.close(fd)
