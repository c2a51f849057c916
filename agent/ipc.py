"""System V IPC objects a job leaves in the container's own IPC namespace.

POSIX message queues are files in /dev/mqueue, wiped with the other scratch
directories; shared memory segments, message queues and semaphore sets are
reachable only through their ids.
"""

from __future__ import annotations

import os

from agent.jail import become_job_user
from agent.libc import libc

SYSVIPC_DIR = "/proc/sysvipc"
_IPC_RMID = 0


def ipc_objects() -> dict[str, list[int]]:
    """Ids of the IPC namespace's shared memory segments, message queues, semaphores."""
    found: dict[str, list[int]] = {}
    for kind in ("shm", "msg", "sem"):
        try:
            with open(os.path.join(SYSVIPC_DIR, kind)) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        ids = [int(row.split()[1]) for row in rows if row.strip()]
        if ids:
            found[kind] = ids
    return found


def remove_ipc() -> bool:
    """Remove the job's IPC objects from a child running as the job user.

    IPC_RMID needs the owner's or creator's uid (or CAP_SYS_ADMIN, which the
    agent lacks); every object here was created by the job user.

    Returns:
        Whether there were any (when there were none, there is nothing to verify).
    """
    objects = ipc_objects()
    if not objects:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            become_job_user()
            for ident in objects.get("shm", []):
                libc.shmctl(ident, _IPC_RMID, None)
            for ident in objects.get("msg", []):
                libc.msgctl(ident, _IPC_RMID, None)
            for ident in objects.get("sem", []):
                libc.semctl(ident, 0, _IPC_RMID)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return True
