"""CPU time of a step's processes, all of them, measured while they run.

The container's cgroup counts the CPU time of every process in it, exactly
(nanoseconds); the only process in it that is not the job's is the agent, whose
own CPU time is known (``time.process_time``). So the job's CPU time so far is
the cgroup's usage minus the agent's, both since the step started: threads,
children, orphans and processes already killed included.

Where no cgroup counter is readable (gVisor shows jobs none), the process table
tells instead, in clock ticks: every live process but the agent with what it
used and what its reaped children used (``/proc/<pid>/stat``), plus what the
agent's own reaped children used. A process's time moves from its own entry to
its parent's (or the agent's) when it is reaped, so nothing is counted twice
and nothing dead is lost; a scan during which a process was reaped is taken
again (:data:`SCANS`).

The process table is the guest kernel's accounting, and gVisor's counts a task's
CPU as the time the Sentry ran it, host throttling included: 64 short-lived
processes on a loaded host summed to 10 s of "CPU" in 1.3 s of wall time, in a
container given half a CPU. No process in the container can have had more than
the host's cgroup gave it, so a table figure is held to the wall time since the
start times the most CPUs the container is ever given
(``CODE_ENGINE_JOB_CPUS``, set by the host: the larger of the run's and the
compile's share).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable

from agent.processes import status_of

# cgroup v1 (its own hierarchy, or joined with cpu), then v2.
_COUNTERS = (
    ("/sys/fs/cgroup/cpuacct/cpuacct.usage", "ns"),
    ("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", "ns"),
    ("/sys/fs/cgroup/cpu.stat", "usage_usec"),
)


_TICKS = os.sysconf("SC_CLK_TCK")


def _children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


PROC = "/proc"


def _cpu_ceiling(environ: dict[str, str] | os._Environ[str] = os.environ) -> float | None:
    """The most CPUs the container is given (None: not said, no ceiling)."""
    try:
        cpus = float(environ.get("CODE_ENGINE_JOB_CPUS", ""))
    except ValueError:
        return None
    return cpus if cpus > 0 else None


CPU_CEILING = _cpu_ceiling()


def _ticks(proc: str, pid: str) -> int:
    """Clock ticks ``pid`` used, with its reaped children's (utime, stime, cutime, cstime).

    Raises:
        OSError, IndexError, ValueError: it is gone, or its stat is not one.
    """
    with open(f"{proc}/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # Fields 14-17 of proc(5).
    return sum(int(value) for value in fields[11:15])


# A scan during which a listed process went away may have missed that process's
# time: reaped after its parent's entry was read (whose cutime then lacked it) and
# before its own was. Seen as an interactor's 600 ms helper charged to the
# solution, once in two dozen runs under gVisor. Such a scan is taken again, at
# most this many times in all; with the entries read in pid order (a parent before
# the children it forked), a scan can miss time but never count it twice.
SCANS = 3


def _scan(proc: str, counted: Callable[[str], bool | None]) -> int | None:
    """Clock ticks of the processes ``counted`` says yes to (None: it is gone).

    The first scan during which no counted process went away, else the largest;
    None when ``proc`` cannot be listed.
    """
    best: int | None = None
    for _ in range(SCANS):
        try:
            pids = sorted((entry for entry in os.listdir(proc) if entry.isdigit()), key=int)
        except OSError:
            return best
        ticks, whole = 0, True
        for pid in pids:
            wanted = counted(pid)
            if wanted is None:
                whole = False
                continue
            if not wanted:
                continue
            try:
                ticks += _ticks(proc, pid)
            except (OSError, IndexError, ValueError):
                whole = False  # gone meanwhile: its time is its reaper's now, or soon
        best = ticks if best is None else max(best, ticks)
        if whole:
            break
    return best


def _process_table_s(proc: str | None = None) -> float | None:
    """CPU time of every live process but this one, with their reaped children's."""
    me = str(os.getpid())
    ticks = _scan(proc or PROC, lambda pid: pid != me)
    return None if ticks is None else ticks / _TICKS + _children_s()


def user_cpu_ms(uid: int, proc: str | None = None) -> float:
    """CPU time of the live processes of ``uid``, with their reaped children's, in ms.

    What the agent reaped itself (the main process, orphans it adopted) is not
    in it: the caller adds that from each wait's rusage.
    """
    proc = proc or PROC

    def owned(pid: str) -> bool | None:
        if pid == "1":
            return False
        status = status_of(pid, proc)
        return None if status is None else uid in status[1]

    return (_scan(proc, owned) or 0) * 1000 / _TICKS


class CpuMeter:
    """Counts the CPU time used by everything but the agent since it was made."""

    def __init__(self, ceiling: float | None = CPU_CEILING) -> None:
        self._fd: int | None = None
        self._ceiling = ceiling
        self._wall_start = time.monotonic()
        self._unit = ""
        for path, unit in _COUNTERS:
            try:
                self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            self._unit = unit
            if self._read_ns() is not None:
                break
            self.close()
        self._cgroup_start = self._read_ns()
        self._agent_start = time.process_time()
        self._children_start = _children_s()
        self._table_start = None if self.exact else _process_table_s()

    @property
    def exact(self) -> bool:
        """Whether a cgroup counter counts (else the process table, in clock ticks)."""
        return self._cgroup_start is not None

    def used_ms(self) -> float | None:
        """CPU time so far; None when neither a counter nor the process table tells."""
        if self._cgroup_start is None:
            table = _process_table_s()
            if table is None or self._table_start is None:
                return None
            used_s = table - self._table_start
            if self._ceiling is not None:
                used_s = min(used_s, (time.monotonic() - self._wall_start) * self._ceiling)
            return max(0.0, used_s * 1000)
        now = self._read_ns()
        if now is None:
            return None
        agent_ns = (time.process_time() - self._agent_start) * 1e9
        return max(0.0, (now - self._cgroup_start - agent_ns) / 1e6)

    def reaped_ms(self) -> float:
        """CPU time of the processes reaped since the start (exact once all are gone)."""
        return max(0.0, (_children_s() - self._children_start) * 1000)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _read_ns(self) -> int | None:
        if self._fd is None:
            return None
        try:
            text = os.pread(self._fd, 4096, 0).decode()
            if self._unit == "ns":
                return int(text)
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == self._unit:
                    return int(value) * 1000
        except (OSError, ValueError):
            return None
        return None
