"""Work that grows with a job's output, done off the event loop once the output is large.

The daemon is one Trio event loop: whatever it does in one step holds every
other request. Building a reply reads the job's output in full (decoding it to
text, comparing it with the expected answer, cutting and encoding a problems
reply); for megabytes of output that is tens to hundreds of milliseconds, so
above INLINE_BYTES it runs in a worker thread. At most THREADS run at a time:
they share the interpreter lock with the loop, and more of them would only
take turns on it. Small outputs, the common case, stay inline: handing work
to a thread and back costs about 0.2 ms, while grading 8 KiB costs at most
about 0.6 ms (a ``float`` comparison in which every token differs, with an
error output that is not UTF-8; measured on a 2.8 GHz Xeon).

A thread frees the loop only between the interpreter's steps: one C call (a
``split`` or ``decode`` of a whole output, a ``map`` over all its tokens)
keeps the interpreter lock, and so the loop, until it returns. So the work
goes in pieces of at most PIECE_BYTES (or PIECE_TOKENS tokens), each a few
milliseconds at most; between two, the loop gets the lock back within the
interpreter's switch interval (5 ms). What is still done in one call: encoding
a whole problems reply (under the payload limit: some 4 ms for 8 MiB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio

INLINE_BYTES = 8 << 10
THREADS = 2
PIECE_BYTES = 64 << 10
PIECE_TOKENS = 16 << 10

T = TypeVar("T")


def threads() -> trio.CapacityLimiter:
    """The limiter one engine's output work shares (the Jobs make one)."""
    return trio.CapacityLimiter(THREADS)


async def offload(size: int, work: Callable[[], T], limiter: trio.CapacityLimiter) -> T:
    """``work()``, in a worker thread when it reads more than INLINE_BYTES (``size``).

    ``work`` must touch nothing another task may change meanwhile. A
    cancellation waits for work already in its thread to finish.
    """
    if size <= INLINE_BYTES:
        return work()
    return await trio.to_thread.run_sync(work, limiter=limiter)
