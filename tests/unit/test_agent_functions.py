"""Pure functions of the worker agent (the ``agent`` package), run on the host."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat

import pytest

from agent import files, jail, loop, seccomp, step_runner
from agent.errors import BadRequest
from agent.jobs import Agent, Unreadable
from agent.protocol import (
    DEFAULT_OUTPUT_LIMIT,
    DEFAULT_TIMEOUT_MS,
    Error,
    Job,
    Pong,
    ProtocolError,
    Result,
    Run,
    Step,
    StepResult,
    decode_agent_message,
    decode_host_message,
    host_message_from,
)


@pytest.mark.parametrize(
    "name", ["main.py", "a", "Main.java", "x" * 255, "ünï.txt", "a/b", "pkg/sub/mod.py"]
)
def test_plain_file_names_pass(name):
    assert files.check_file_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../x",
        "a/../b",
        "a//b",
        "a/",
        "a/.hidden",
        "/etc/passwd",
        ".bashrc",
        "a\0b",
        "x" * 256,
        "a/" + "x" * 256,
        "/".join("d" * 9),
        7,
    ],
)
def test_bad_file_names_are_rejected(name):
    with pytest.raises(BadRequest):
        files.check_file_name(name)


def test_step_defaults():
    step = Step.from_wire({"argv": ["true"]})
    assert step.env == {} and step.stdin == b""
    assert step.limits.wall_ms == DEFAULT_TIMEOUT_MS
    assert step.limits.output_bytes == DEFAULT_OUTPUT_LIMIT
    assert step.limits.cpu_ms is None


def test_run_stdin_is_decoded_but_compile_stdin_ignored():
    raw = {"argv": ["cat"], "stdin": base64.b64encode(b"hi").decode()}
    assert Step.from_wire(raw).stdin == b"hi"
    assert Step.from_wire(raw, with_stdin=False).stdin == b""
    job = host_message_from({"type": "job", "id": "j", "compile": raw, "runs": [raw]})
    assert isinstance(job, Job) and job.compile is not None
    assert job.compile.stdin == b"" and job.runs[0].stdin == b"hi"


@pytest.mark.parametrize(
    "raw",
    [
        {"argv": []},
        {"argv": "true"},
        {"argv": ["a\0b"]},
        {"argv": ["true"], "env": {"A=B": "c"}},
        {"argv": ["true"], "env": {"A": 1}},
        {"argv": ["true"], "limits": {"wall_ms": 0}},
        {"argv": ["true"], "limits": {"wall_ms": True}},
        {"argv": ["true"], "limits": {"output_bytes": -1}},
        {"argv": ["true"], "timeout_ms": 1000},  # a field of an older protocol
        {"argv": ["true"], "stdin": "not base64!"},
    ],
)
def test_bad_steps_are_rejected(raw):
    with pytest.raises(ProtocolError):
        Step.from_wire(raw)


def test_job_parsing():
    job = host_message_from(
        {
            "type": "job",
            "id": "j",
            "files": {"main.py": base64.b64encode(b"print(1)").decode()},
            "compile": None,
            "runs": [{"argv": ["python3"]}],
        }
    )
    assert isinstance(job, Job)
    assert job.files == {"main.py": b"print(1)"} and job.compile is None and job.finish is True
    assert job.early_result is False
    early_job = host_message_from({"type": "job", "id": "j", "runs": [], "early_result": True})
    assert isinstance(early_job, Job) and early_job.early_result is True
    early_run = host_message_from({"type": "run", "id": "r", "runs": [], "early_result": True})
    assert isinstance(early_run, Run) and early_run.early_result is True
    with pytest.raises(ProtocolError):
        host_message_from({"type": "job", "id": "j", "runs": [], "early_result": "yes"})
    # The protocol carries any name; the agent refuses the ones it will not write.
    unsafe = host_message_from({"type": "job", "id": "j", "files": {"../x": ""}, "runs": []})
    assert isinstance(unsafe, Job)
    with pytest.raises(BadRequest):
        for name in unsafe.files:
            files.check_file_name(name)


def _answer(line: bytes):
    """What the agent answers to a line it cannot take as a message (no container touched)."""
    try:
        request = decode_host_message(line)
    except ProtocolError as exc:
        return Agent(wake_fd=-1).handle(Unreadable.from_error(exc))
    return Agent(wake_fd=-1).handle(request)


def test_unreadable_lines_get_an_error_message():
    assert _answer(b'{"type": "ping"}') == Pong()
    bad_json = _answer(b"{not json")
    assert isinstance(bad_json, Error) and bad_json.message.startswith("bad json: ")
    assert bad_json.id is None
    assert _answer(b"[1]") == Error("a message must be an object")
    assert _answer(b'{"type": "nope", "id": "x"}') == Error("unknown type: 'nope'", "x")
    assert _answer(b'{"type": "job", "id": 7}') == Error("id must be a string")
    assert _answer(b'{"type": "run", "id": 7}') == Error("id must be a string")


def test_unreadable_is_what_the_error_could_read():
    try:
        decode_host_message(b'{"type": "job", "id": "j", "files": {"a": "!!"}}')
    except ProtocolError as exc:
        unreadable = Unreadable.from_error(exc)
    assert unreadable == Unreadable("file a is not valid base64", "job", "j")


def test_capture_keeps_exactly_the_limit():
    capture = step_runner.Capture(limit=5)
    assert not capture.add(b"abc")
    assert not capture.add(b"de")
    assert capture.add(b"f")
    assert bytes(capture.data) == b"abcde" and capture.total == 6


def test_step_failed():
    ok = StepResult(exit_code=0, signal=None, timed_out=False, output_exceeded=False)
    assert not ok.failed
    assert dataclasses.replace(ok, exit_code=1).failed
    assert dataclasses.replace(ok, exit_code=None, signal=9).failed
    assert dataclasses.replace(ok, output_exceeded=True).failed


def test_wipe_removes_deep_trees_without_following_symlinks(tmp_path):
    scratch, outside = tmp_path / "scratch", tmp_path / "outside"
    scratch.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    deep = scratch / "d"
    deep.mkdir()
    fd = os.open(deep, os.O_RDONLY)
    try:
        for _ in range(2000):  # deeper than Python's recursion limit
            os.mkdir("d", dir_fd=fd)
            sub = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
        os.symlink(outside, "link", dir_fd=fd)
    finally:
        os.close(fd)
    (scratch / "top-link").symlink_to(outside)
    (scratch / "build").mkdir()
    files.wipe_contents(str(scratch), keep=frozenset({"build"}))
    assert os.listdir(scratch) == ["build"]
    assert (outside / "keep.txt").read_text() == "keep"


@pytest.mark.skipif(os.geteuid() != 0, reason="locking chowns to root")
def test_lock_tree_never_follows_symlinks(tmp_path):
    outside = tmp_path / "victim"
    outside.write_text("secret")
    os.chown(outside, 12345, 12345)
    outside.chmod(0o600)
    build = tmp_path / "build"
    (build / "sub").mkdir(parents=True)
    (build / "main").write_text("")
    (build / "main").chmod(0o4777)
    (build / "data.txt").write_text("")
    (build / "sub" / "link").symlink_to(outside)
    (build / "dir-link").symlink_to(tmp_path)
    os.chmod(tmp_path, 0o711)
    for path in (build, build / "sub", build / "main", build / "data.txt"):
        os.chown(path, 12345, 12345)
    files.lock_tree(str(build))
    victim = outside.stat()
    assert (victim.st_uid, stat.S_IMODE(victim.st_mode)) == (12345, 0o600)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o711
    modes = {
        p.name: (p.lstat().st_uid, stat.S_IMODE(p.lstat().st_mode))
        for p in (build, build / "sub", build / "main", build / "data.txt")
    }
    assert modes == {"build": (0, 0o755), "sub": (0, 0o755), "main": (0, 0o755),
                     "data.txt": (0, 0o644)}  # fmt: skip
    assert (build / "sub" / "link").lstat().st_uid == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="a seccomp filter needs no_new_privs or root")
def test_job_filter_refuses_io_uring_and_nothing_else():
    import ctypes
    import errno

    pid = os.fork()
    if pid == 0:  # the filter stays with this child
        code = 1
        try:
            seccomp.install_job_filter()
            libc = ctypes.CDLL(None, use_errno=True)
            refused = [
                libc.syscall(nr, 0, 0, 0, 0, 0) == -1 and ctypes.get_errno() == errno.ENOSYS
                for nr in (425, 426, 427, 0x40000000 | 425)
            ]
            # getpid, and io_uring's neighbour pidfd_send_signal (EBADF, not ENOSYS).
            neighbour = (
                libc.syscall(424, -1, 0, None, 0) == -1 and ctypes.get_errno() == errno.EBADF
            )
            allowed = libc.syscall(39) == os.getpid() and neighbour
            code = 0 if all(refused) and allowed else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_file_size_request_is_clamped_to_the_hard_limit(monkeypatch):
    monkeypatch.setattr(jail.resource, "getrlimit", lambda which: (100, 1000))
    assert jail.below_hard(jail.resource.RLIMIT_FSIZE, 500) == 500
    assert jail.below_hard(jail.resource.RLIMIT_FSIZE, 5000) == 1000
    monkeypatch.setattr(
        jail.resource, "getrlimit", lambda which: (100, jail.resource.RLIM_INFINITY)
    )
    assert jail.below_hard(jail.resource.RLIMIT_FSIZE, 5000) == 5000


def test_send_writes_a_whole_message_through_signals():
    """A signal landing mid-write made one write() return short (seen with SIGCHLD)."""
    import signal
    import threading
    import time

    read_fd, write_fd = os.pipe()
    received = bytearray()

    def slow_reader() -> None:
        while chunk := os.read(read_fd, 4096):
            received.extend(chunk)
            time.sleep(0.0005)

    reader = threading.Thread(target=slow_reader)
    reader.start()
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    message = Result("r", runs=[StepResult(exit_code=0, signal=None, stdout=b"x" * (1 << 20))])
    try:
        loop.send(message, write_fd)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(write_fd)
        reader.join()
        os.close(read_fd)
    assert received.endswith(b"\n") and decode_agent_message(received) == message


def test_write_files_creates_directories_for_the_job_user(tmp_path):
    files.write_files(str(tmp_path), {"main.py": b"1", "pkg/sub/m.py": b"2", "pkg/n.py": b"3"})
    assert (tmp_path / "pkg" / "sub" / "m.py").read_bytes() == b"2"
    assert (tmp_path / "pkg" / "n.py").read_bytes() == b"3"
    for path in (tmp_path / "pkg", tmp_path / "pkg" / "sub", tmp_path / "pkg" / "sub" / "m.py"):
        assert (path.stat().st_uid, path.stat().st_gid) == (files.JOB_UID, files.JOB_GID)
    assert stat.S_IMODE((tmp_path / "pkg").stat().st_mode) == 0o700


def test_write_files_never_follows_a_symlinked_directory(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    build = tmp_path / "build"
    build.mkdir()
    (build / "pkg").symlink_to(outside)
    with pytest.raises(BadRequest, match="pkg is not a directory"):
        files.write_files(str(build), {"pkg/m.py": b"x"})
    assert list(outside.iterdir()) == []


def test_write_files_refuses_a_file_where_a_directory_goes(tmp_path):
    with pytest.raises(BadRequest):
        files.write_files(str(tmp_path), {"a": b"", "a/b": b""})


def test_an_address_space_limit_only_when_the_host_asks_for_one():
    from agent.jail import _address_space

    assert _address_space({}) is None
    assert _address_space({"CODE_ENGINE_JOB_ADDRESS_SPACE_MB": "junk"}) is None
    assert _address_space({"CODE_ENGINE_JOB_ADDRESS_SPACE_MB": "0"}) is None
    assert _address_space({"CODE_ENGINE_JOB_ADDRESS_SPACE_MB": "24000"}) == 24000 << 20


def test_a_memory_watch_only_when_the_host_asks_for_one():
    from agent.memory import _watch_level

    assert _watch_level({}) is None
    assert _watch_level({"CODE_ENGINE_JOB_MEMORY_WATCH_MB": "junk"}) is None
    assert _watch_level({"CODE_ENGINE_JOB_MEMORY_WATCH_MB": "0"}) is None
    assert _watch_level({"CODE_ENGINE_JOB_MEMORY_WATCH_MB": "336"}) == 336 << 20


def test_the_guest_holds_its_total_less_what_is_available(tmp_path):
    from agent import memory

    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:         409600 kB\nMemFree:          100732 kB\n"
        "MemAvailable:     100732 kB\nCached:            91396 kB\n"
    )
    assert memory.guest_used(str(meminfo)) == (409600 - 100732) << 10
    meminfo.write_text("MemTotal:         409600 kB\n")
    assert memory.guest_used(str(meminfo)) is None
    assert memory.guest_used(str(tmp_path / "missing")) is None
    assert memory.over_watch_level(None) is False
    # This machine's own memory: far more than a MiB in use, far less than its RAM.
    assert memory.over_watch_level(memory.SLACK + 1) is True
    assert memory.over_watch_level(1 << 60) is False
