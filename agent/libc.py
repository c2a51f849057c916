"""The C library, for the calls Python's ``os`` module lacks.

prctl (the job's seccomp filter), mallopt (the agent's memory floor) and the
System V IPC control calls (removing a job's segments, queues and semaphores).
"""

from __future__ import annotations

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
