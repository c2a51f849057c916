"""Where things are in a worker container, and whom jobs run as: one definition for both ends.

The host builds argv and environments with these paths (service/languages.py)
and picks each container's job uid from ``JOB_UIDS`` (service/sandbox/pool.py);
the agent makes, locks and wipes the directories. The image names every job uid
in /etc/passwd (worker/Dockerfile's loop runs over the same range).
"""

from __future__ import annotations

# The job users: one uid of this range per container, chosen by the host, so
# that the kernel's per-uid quotas (pending signals, message-queue bytes,
# inotify instances, pipe buffers) are not shared by jobs running at the same
# time in different containers.
JOB_UIDS = range(10001, 11025)
# A problem's tools (checker, interactor) run as the job user's ids shifted by
# this much: far enough that no job uid of another container is ever one of them.
TOOL_ID_SHIFT = 100_000

WORK_DIR = "/work"  # a tmpfs; only the agent creates entries in it
BUILD_DIR = "/work/build"  # the job's files and what its compile made, read-only for runs
RUN_DIR = "/work/run"  # a fresh, empty working directory for each run
TOOL_DIR = "/work/tool"  # a problem's tool, built as the tool user, readable by it alone
CHECK_DIR = "/work/check"  # a check's input, output and answer, for the tool user alone
SCRATCH_DIRS = ("/tmp", "/dev/shm", "/dev/mqueue")  # the other places a job can write
