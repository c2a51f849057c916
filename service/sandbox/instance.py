"""Which instance this daemon is: a stable id per host, held by a lock while it runs.

The pool labels its containers with the instance id and, on start-up, removes
every container with its label: what a crashed run of the same instance left
(exited workers after a SIGKILL or a dockerd crash). That only works if the next
start has the same id, so the default id is stable: ``<hostname>-<slot>``, the
lowest slot whose lock nobody holds. The lock is an ``flock`` on a file, held for
the life of the process and released by the kernel however the process ends, so:

- a restart after a crash gets the crashed run's id back and sweeps its leftovers;
- a second daemon running on the same host at the same time gets the next slot,
  and never removes the first one's live containers;
- an id set explicitly (``CODE_ENGINE_INSTANCE_ID``) is locked the same way, and a
  second daemon asking for an id in use refuses to start.

Daemons in separate containers have separate hostnames (and lock directories):
give each a ``CODE_ENGINE_INSTANCE_ID`` of its own if it shares a Docker daemon
with others and must find its own leftovers after being recreated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..config import Settings, default_instance_id
from ..errors import EngineError

MAX_SLOTS = 64


def lock_directory() -> Path:
    return Path(tempfile.gettempdir()) / "code-engine-instances"


class InstanceInUse(EngineError):
    """Another live daemon on this host holds the instance id."""


def _try_lock(directory: Path, instance_id: str) -> int | None:
    """An open, locked descriptor for ``instance_id``, or None when it is held."""
    fd = os.open(directory / f"{instance_id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def claim_instance(settings: Settings, directory: Path | None = None) -> Iterator[Settings]:
    """Hold this daemon's instance id for the block; yields the settings carrying it.

    With ``settings.instance_id_auto`` the id is ``<hostname>-<slot>`` for the
    lowest free slot; otherwise it is ``settings.instance_id`` itself.

    Raises:
        InstanceInUse: the explicit id (or every slot) is held by a live daemon.
        EngineError: the lock directory cannot be used.
    """
    directory = directory or lock_directory()
    try:
        directory.mkdir(mode=0o1777, parents=True, exist_ok=True)
        if settings.instance_id_auto:
            candidates = [default_instance_id(slot) for slot in range(1, MAX_SLOTS + 1)]
        else:
            candidates = [settings.instance_id]
        fd = None
        for instance_id in candidates:
            fd = _try_lock(directory, instance_id)
            if fd is not None:
                break
    except OSError as exc:
        raise EngineError(f"cannot lock the instance id in {directory}: {exc}") from exc
    if fd is None:
        if settings.instance_id_auto:
            raise InstanceInUse(f"all {MAX_SLOTS} default instance ids of this host are in use")
        raise InstanceInUse(
            f"instance id {settings.instance_id!r} is in use by another daemon on this host; "
            "give each daemon its own CODE_ENGINE_INSTANCE_ID"
        )
    try:
        yield dataclasses.replace(settings, instance_id=instance_id, instance_id_auto=False)
    finally:
        os.close(fd)
