"""The guest's memory where the host's kernel cannot stop a job in time (gVisor).

Under runc the job's processes are the container's: at the cgroup's limit the
kernel's OOM killer takes one of them, and the agent reports it. Under gVisor
the guest's memory is the Sentry's on the host, and the guest's kernel grants
more than it has: a Node.js ``Buffer`` hoard kept allocating with the guest's
memory full, and the host's kernel then either killed the Sentry (the whole
sandbox) or, near the cgroup's limit without swap, reclaimed and re-read the
Sentry's code pages for the job's whole 10 s time limit, a ``timeout``.

gVisor's own ``/proc/meminfo`` counts everything the guest holds (processes,
tmpfs, the agent) against ``MemTotal``, the container's limit, and its
``MemAvailable`` stops at zero when the guest is full. The host gives the agent
that limit as its watch level (``CODE_ENGINE_JOB_MEMORY_WATCH_MB``): a step
whose guest reaches it is ended as if the OOM killer had struck, and its
verdict is ``memory_limit``. A program that fills every tmpfs to its cap
(336 MB of the 400) plus itself and the agent held 363 MB: below the level.
"""

from __future__ import annotations

import os

# How often a watched step's guest memory is read.
WATCH_INTERVAL_S = 0.02
# /proc/meminfo counts in kB: a full guest may read up to this much below its total.
SLACK = 1 << 20
MEMINFO = "/proc/meminfo"


def _watch_level(environ: dict[str, str] | os._Environ[str] = os.environ) -> int | None:
    """The guest memory in bytes at which a step is ended; None: no watch."""
    try:
        megabytes = int(environ.get("CODE_ENGINE_JOB_MEMORY_WATCH_MB", ""))
    except ValueError:
        return None
    return megabytes << 20 if megabytes > 0 else None


WATCH_LEVEL = _watch_level()


def guest_used(path: str = MEMINFO) -> int | None:
    """Bytes the guest holds (``MemTotal - MemAvailable``), or None when unreadable."""
    fields: dict[str, int] = {}
    try:
        with open(path, "rb") as f:
            for line in f:
                key, _, rest = line.partition(b":")
                if key in (b"MemTotal", b"MemAvailable"):
                    fields[key.decode()] = int(rest.split()[0]) << 10
    except (OSError, ValueError, IndexError):
        return None
    if len(fields) != 2:
        return None
    return max(0, fields["MemTotal"] - fields["MemAvailable"])


def over_watch_level(level: int | None = WATCH_LEVEL) -> bool:
    """The guest reached the watch level (never without one)."""
    if level is None:
        return False
    used = guest_used()
    return used is not None and used >= level - SLACK
