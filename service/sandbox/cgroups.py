"""A worker container's CPU share and memory limit, written to its cgroup directly.

A compiled request's compile step runs at ``compile_cpus`` and its run back at
``cpus``. Docker's ``POST /containers/{id}/update`` makes that change through
dockerd and runc, about 10 ms a call here, twice per compile. The same change
written to the container's own cgroup files costs microseconds, so where the
daemon can see them it writes them itself and makes no Docker call at all.

Where that is: the daemon on the container's host, as root, with the host's
``/sys/fs/cgroup`` (not the daemon under Compose, whose pid namespace hides the
container's process). The files are found once, when the container starts and
before any job runs in it, from ``/proc/<pid>/cgroup`` of its first process (the
agent, which no job can move: the container's cgroup tree is read-only inside),
and only a cgroup whose path names the container's id is taken. Anywhere else
:func:`find` says None and the session asks Docker as before.

Docker keeps the limits it was given at creation in its own records: during a
compile ``docker inspect`` shows the run's share while the kernel enforces the
compile's. A cleanup runs at the compile share too (the session's idle share:
engine work, the next warm starts among it); every step that runs a job's code
is put back at the run's limits first, and a container whose limits could not
be put back is never handed out again (the pool replaces it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")


@dataclass(frozen=True)
class CgroupFiles:
    """The limit files of one container's cgroup (v1: two hierarchies; v2: one)."""

    cpu: Path  # v1: the cpu controller's directory; v2: the unified one
    memory: Path
    unified: bool

    def set_cpus(self, cpus: float, period_us: int) -> None:
        """The CFS quota for ``cpus`` CPUs per ``period_us``."""
        quota = int(period_us * cpus)
        if self.unified:
            _write(self.cpu / "cpu.max", f"{quota} {period_us}")
        else:
            _write(self.cpu / "cpu.cfs_period_us", str(period_us))
            _write(self.cpu / "cpu.cfs_quota_us", str(quota))

    def set_memory(self, new_bytes: int, old_bytes: int) -> None:
        """The memory limit, with no swap (as Docker sets ``MemorySwap`` equal to it).

        Under v1 the memory+swap limit may never be below the memory limit:
        raised first when the limit grows, lowered last when it shrinks.
        """
        if self.unified:
            _write(self.memory / "memory.max", str(new_bytes))
            return
        memsw = self.memory / "memory.memsw.limit_in_bytes"
        limit = self.memory / "memory.limit_in_bytes"
        swap_accounted = memsw.exists()
        if new_bytes > old_bytes and swap_accounted:
            _write(memsw, str(new_bytes))
        _write(limit, str(new_bytes))
        if new_bytes <= old_bytes and swap_accounted:
            _write(memsw, str(new_bytes))


def find(
    container_id: str, pid: int, *, root: Path = CGROUP_ROOT, proc: Path = PROC
) -> CgroupFiles | None:
    """The cgroup files of the container whose first process is ``pid``; None where unseen."""
    if pid <= 0 or not container_id:
        return None
    try:
        lines = (proc / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        return None
    places: dict[str, Path] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if container_id not in path:
            continue  # not the container's own cgroup (or not a cgroup line)
        relative = path.lstrip("/")
        if controllers == "":
            places["unified"] = root / relative
        for controller in ("cpu", "memory"):
            if controller in controllers.split(","):
                places[controller] = root / controllers / relative
    if "cpu" in places and "memory" in places:
        files = CgroupFiles(places["cpu"], places["memory"], unified=False)
        needed = [files.cpu / "cpu.cfs_quota_us", files.memory / "memory.limit_in_bytes"]
    elif "unified" in places:
        files = CgroupFiles(places["unified"], places["unified"], unified=True)
        needed = [files.cpu / "cpu.max", files.memory / "memory.max"]
    else:
        return None
    if all(os.access(path, os.W_OK) for path in needed):
        return files
    return None


def _write(path: Path, value: str) -> None:
    # One write(2) of the whole value, as the kernel's cgroup files expect (truncating,
    # as a shell's `>` does: cgroupfs ignores it, a plain file needs it).
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
