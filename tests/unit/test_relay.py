"""agent.relay: the job's output carried to the interactor, with real pipes."""

from __future__ import annotations

import os
import selectors
import socket

from agent.relay import Relay


def _pump(relay: Relay, sel: selectors.BaseSelector) -> None:
    """Handle every ready descriptor until none is ready."""
    while events := sel.select(0):
        for key, _ in events:
            relay.ready(sel, key.fd)


def _pipes() -> tuple[int, int, int, int]:
    job_r, job_w = os.pipe()
    tool_r, tool_w = os.pipe()
    return job_r, job_w, tool_r, tool_w


def test_what_the_job_writes_reaches_the_interactor() -> None:
    job_r, job_w, tool_r, tool_w = _pipes()
    relay = Relay(job_r, tool_w)
    with selectors.DefaultSelector() as sel:
        relay.start(sel)
        os.write(job_w, b"42\n")
        _pump(relay, sel)
        assert os.read(tool_r, 100) == b"42\n"
        os.close(job_w)  # the job ended and holds nothing more: EOF goes through
        _pump(relay, sel)
        assert os.read(tool_r, 100) == b""
    relay.release()
    os.close(tool_r)


def test_a_parked_copy_of_the_jobs_output_does_not_hold_the_interactor() -> None:
    job_r, job_w, tool_r, tool_w = _pipes()
    relay = Relay(job_r, tool_w)
    parking, holder = socket.socketpair()
    socket.send_fds(parking, [b"x"], [job_w])  # a copy in flight: the pipe never ends
    with selectors.DefaultSelector() as sel:
        relay.start(sel)
        os.write(job_w, b"last words\n")
        os.close(job_w)
        relay.job_ended(sel)
        _pump(relay, sel)
    assert os.read(tool_r, 100) == b"last words\n"
    assert os.read(tool_r, 100) == b""
    relay.release()
    for end in (parking, holder):
        end.close()
    os.close(tool_r)


def test_the_job_is_held_back_while_the_interactor_is_behind() -> None:
    job_r, job_w, tool_r, tool_w = _pipes()
    relay = Relay(job_r, tool_w)
    os.set_blocking(job_w, False)
    with selectors.DefaultSelector() as sel:
        relay.start(sel)
        written = 0
        try:
            while written < 1 << 24:  # the job writes until its pipe is full
                written += os.write(job_w, b"x" * 65536)
                _pump(relay, sel)
        except BlockingIOError:
            pass
        held = len(relay.pending)
        assert 0 < held < written  # the interactor's pipe is full, the rest waits in the job's
        received = 0
        os.set_blocking(tool_r, False)
        while received < written:
            try:
                received += len(os.read(tool_r, 1 << 20))
            except BlockingIOError:
                _pump(relay, sel)
        assert received == written
    relay.release()
    for fd in (job_w, tool_r):
        os.close(fd)


def test_when_the_interactor_ends_the_jobs_next_write_fails() -> None:
    job_r, job_w, tool_r, tool_w = _pipes()
    relay = Relay(job_r, tool_w)
    with selectors.DefaultSelector() as sel:
        relay.start(sel)
        relay.tool_ended(sel)
    try:
        os.write(job_w, b"anyone?")
        raise AssertionError("the write went through")
    except BrokenPipeError:
        pass
    relay.release()
    for fd in (job_w, tool_r):
        os.close(fd)
