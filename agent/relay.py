"""The job's output carried to its interactor by the agent, where pipe ends cannot be taken back.

In an interactive run the interactor learns that the job has ended from EOF on
its stdin, which needs every write end of that pipe closed. A job can park a
copy of its stdout in flight on a unix socket cycle (agent.leftovers) and exit:
Linux's unix-socket collector frees it once the job is gone, gVisor's kernel
has none, and the interactor would wait for the wall-clock limit. So under
gVisor (``CODE_ENGINE_RELAY_INTERACTIONS``, set by the host) the job writes to
a pipe the agent reads, and the agent writes to the interactor's stdin: once
the job has ended, the agent forwards what it had written and closes the
interactor's stdin itself. A message costs the agent a wakeup, a read and a
write; the job's CPU time is not affected.

Backpressure is kept: while the interactor has not taken what the agent holds,
the agent reads no more from the job, whose writes block as they would on a
direct pipe. When the interactor ends, the agent closes its end of the job's
output, so the job's next write fails (SIGPIPE), as on a direct pipe.
"""

from __future__ import annotations

import os
import selectors

from agent.step_runner import read_chunk


def _wanted(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    return environ.get("CODE_ENGINE_RELAY_INTERACTIONS", "") == "1"


# Read at import, before the agent erases its environment (agent.environment).
WANTED = _wanted()


class Relay:
    """Forwards ``source`` (the job's output) to ``sink`` (the interactor's stdin)."""

    def __init__(self, source: int, sink: int) -> None:
        self.source: int | None = source
        self.sink: int | None = sink
        self.pending = b""
        self.source_done = False  # no more is read from the job
        for fd in (source, sink):
            os.set_blocking(fd, False)

    def start(self, sel: selectors.BaseSelector) -> None:
        assert self.source is not None
        sel.register(self.source, selectors.EVENT_READ, self)

    def ready(self, sel: selectors.BaseSelector, fd: int) -> None:
        """``fd`` (the source or the sink) is ready: move what can be moved."""
        if fd == self.source:
            self._read(sel)
        else:
            self._flush(sel)

    def job_ended(self, sel: selectors.BaseSelector) -> None:
        """The job and everything it started are gone: forward what it wrote, then EOF."""
        if self.source_done:
            return
        self.source_done = True
        while self.source is not None and (chunk := read_chunk(self.source)):
            self.pending += chunk
        self._close_source(sel)
        self._flush(sel)

    def tool_ended(self, sel: selectors.BaseSelector) -> None:
        """The interactor is gone: the job's next write fails, as on a direct pipe."""
        self.pending = b""
        self.source_done = True
        self._close_source(sel)
        self._close_sink(sel)

    def release(self) -> None:
        """Close what is still open (the run is over, its selector gone)."""
        for fd in (self.source, self.sink):
            if fd is not None:
                os.close(fd)
        self.source = self.sink = None

    def _read(self, sel: selectors.BaseSelector) -> None:
        assert self.source is not None
        chunk = read_chunk(self.source)
        if chunk is None:
            return
        if not chunk:  # every write end closed: the job ended without parking any
            self.source_done = True
            self._close_source(sel)
        self.pending += chunk
        self._flush(sel)

    def _flush(self, sel: selectors.BaseSelector) -> None:
        if self.sink is None:
            self.pending = b""
            return
        if self.pending:
            try:
                written = os.write(self.sink, self.pending)
                self.pending = self.pending[written:]
            except BlockingIOError:
                pass
            except OSError:  # the interactor closed its stdin: the job's next write fails
                self.pending = b""
                self.source_done = True
                self._close_source(sel)
                self._close_sink(sel)
                return
        if self.pending:
            # The interactor is behind: hold the job back until it has taken this.
            self._watch(sel, self.sink, selectors.EVENT_WRITE)
            if self.source is not None:
                _unwatch(sel, self.source)
            return
        _unwatch(sel, self.sink)
        if self.source_done:
            self._close_sink(sel)
        elif self.source is not None:
            self._watch(sel, self.source, selectors.EVENT_READ)

    def _watch(self, sel: selectors.BaseSelector, fd: int, events: int) -> None:
        try:
            sel.modify(fd, events, self)
        except KeyError:
            sel.register(fd, events, self)

    def _close_source(self, sel: selectors.BaseSelector) -> None:
        if self.source is not None:
            _unwatch(sel, self.source)
            os.close(self.source)
            self.source = None

    def _close_sink(self, sel: selectors.BaseSelector) -> None:
        if self.sink is not None:
            _unwatch(sel, self.sink)
            os.close(self.sink)
            self.sink = None


def _unwatch(sel: selectors.BaseSelector, fd: int | None) -> None:
    if fd is None:
        return
    try:
        sel.unregister(fd)
    except KeyError:
        pass
