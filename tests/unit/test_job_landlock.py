"""The job's Landlock ruleset, applied for real in a forked child of the test process."""

from __future__ import annotations

import ctypes
import os

import pytest

from agent import landlock

PR_SET_NO_NEW_PRIVS = 38

pytestmark = pytest.mark.skipif(landlock.abi_version() < 1, reason="this kernel has no Landlock")


def in_restricted_child(hidden: str, probe) -> int:
    """Run ``probe()`` in a child restricted by ``build(hidden)``; it returns the exit code."""
    ruleset = landlock.build(hidden)
    assert ruleset is not None
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            landlock.restrict(ruleset)
            code = probe()
        finally:
            os._exit(code)
    os.close(ruleset)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def readable(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError:
        return False
    return True


def test_the_cgroup_files_are_hidden_and_everything_else_readable():
    counters = [
        path
        for path in ("/sys/fs/cgroup/memory/memory.failcnt", "/sys/fs/cgroup/memory.events")
        if os.path.exists(path)
    ]
    assert counters, "no cgroup memory counter to hide on this host"

    def probe() -> int:
        if any(readable(path) for path in counters):
            return 1  # a counter was readable
        if not (readable("/etc/hostname") and readable("/proc/self/status")):
            return 2
        if not os.listdir("/") or not os.listdir("/sys/fs/cgroup"):
            return 3  # names stay listable everywhere
        if not os.listdir("/sys/kernel"):
            return 4  # the rest of /sys stays readable
        return 0

    assert in_restricted_child("/sys/fs/cgroup", probe) == 0


def test_what_is_granted_is_every_sibling_on_the_way_down(tmp_path):
    (tmp_path / "a" / "secret").mkdir(parents=True)
    (tmp_path / "a" / "open").mkdir()
    (tmp_path / "b").mkdir()
    hidden = str(tmp_path / "a" / "secret")
    paths = landlock.granted(hidden)
    assert str(tmp_path / "a" / "open") in paths
    assert str(tmp_path / "b") in paths
    assert hidden not in paths
    assert not any(path in (str(tmp_path), str(tmp_path / "a")) for path in paths)
    assert not any(path.startswith(hidden) for path in paths)


def test_a_hidden_tree_cannot_be_read_but_its_siblings_can(tmp_path):
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "counter").write_text("42")
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "file").write_text("ok")
    # A link beside it into the hidden tree grants nothing.
    (tmp_path / "shortcut").symlink_to(tmp_path / "secret")
    hidden = str(tmp_path / "secret")

    def probe() -> int:
        if readable(os.path.join(hidden, "counter")):
            return 1
        if readable(str(tmp_path / "shortcut" / "counter")):
            return 3
        return 0 if readable(str(tmp_path / "open" / "file")) else 2

    assert in_restricted_child(hidden, probe) == 0
