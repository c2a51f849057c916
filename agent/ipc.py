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


def _rows(kind: str) -> list[dict[str, str]]:
    """The objects of ``kind`` in /proc/sysvipc, each row by its column names."""
    try:
        with open(os.path.join(SYSVIPC_DIR, kind)) as f:
            header, *rows = f.read().splitlines()
    except (OSError, ValueError):
        return []
    names = header.split()
    return [dict(zip(names, row.split(), strict=False)) for row in rows if row.strip()]


# The id column of each kind.
_ID_COLUMN = {"shm": "shmid", "msg": "msqid", "sem": "semid"}


def ipc_objects() -> dict[str, list[int]]:
    """Ids of the IPC namespace's shared memory segments, message queues, semaphores."""
    found: dict[str, list[int]] = {}
    for kind, column in _ID_COLUMN.items():
        ids = [int(row[column]) for row in _rows(kind) if column in row]
        if ids:
            found[kind] = ids
    return found


def _by_creator() -> dict[tuple[int, int], dict[str, list[int]]]:
    """Every object's id, by kind, under the uid and gid that created it."""
    found: dict[tuple[int, int], dict[str, list[int]]] = {}
    for kind, column in _ID_COLUMN.items():
        for row in _rows(kind):
            try:
                creator = int(row["cuid"]), int(row["cgid"])
                ident = int(row[column])
            except (KeyError, ValueError):
                continue
            found.setdefault(creator, {}).setdefault(kind, []).append(ident)
    return found


def _remove_as(creator: tuple[int, int], objects: dict[str, list[int]]) -> None:
    """Remove ``objects`` from a child that becomes ``creator`` (their uid and gid)."""
    pid = os.fork()
    if pid == 0:
        try:
            become_job_user(*creator)
            for ident in objects.get("shm", []):
                libc.shmctl(ident, _IPC_RMID, None)
            for ident in objects.get("msg", []):
                libc.msgctl(ident, _IPC_RMID, None)
            for ident in objects.get("sem", []):
                libc.semctl(ident, 0, _IPC_RMID)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def remove_ipc() -> bool:
    """Remove every IPC object, each from a child running as the user that created it.

    IPC_RMID needs the owner's or the creator's uid (or CAP_SYS_ADMIN, which the
    agent lacks). The owner can be given away (IPC_SET), the creator cannot: so
    each object is removed as its creator, the job user's or a problem's tool
    user's alike (a checker's semaphore cost its container before). Run only
    while no job process is alive: then the fork cannot meet a full process limit.

    Returns:
        Whether there were any (when there were none, there is nothing to verify).
    """
    creators = _by_creator()
    for creator, objects in creators.items():
        if creator[0] != 0:  # nothing of the agent's: no job can create as root
            _remove_as(creator, objects)
    return bool(creators)
