"""The environment the agent started with: read once, then erased where jobs could read it.

The host configures the agent through its container's environment (the job
uid, the warm starts, the CPU share, gVisor's memory watch level), and each
module reads what it needs at import. The kernel keeps that environment in the
agent's own memory, where ``/proc/1/environ`` shows it: under runc only to root,
but gVisor's kernel shows it to any process of the sandbox. Nothing of the
engine's configuration is a job's business, so once it is read, the agent
overwrites those bytes (:func:`erase`). The agent starts every process with an
environment of its own making, never its own.
"""

from __future__ import annotations

import ctypes

from agent.libc import libc

_strlen = libc.strlen
_strlen.restype = ctypes.c_size_t
_strlen.argtypes = [ctypes.c_void_p]


def erase() -> None:
    """Overwrite every byte of the process's original environment with zeros.

    ``os.environ`` (a copy Python made at start) is left as it is; the C
    library's ``getenv`` then finds nothing.
    """
    entries = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
    index = 0
    while entries and (address := entries[index]):
        ctypes.memset(address, 0, _strlen(address))
        index += 1


def visible(path: str = "/proc/self/environ") -> bytes:
    """What the kernel shows of the environment (zeros once erased)."""
    with open(path, "rb") as f:
        return f.read().strip(b"\0")
