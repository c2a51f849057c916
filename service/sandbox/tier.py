"""The runtime tier of the workers: everything the engine does differently under gVisor.

Workers run on Docker's default runtime (runc: the host's kernel, behind
namespaces, cgroups, capabilities, seccomp and Landlock) or on gVisor's
(``CODE_ENGINE_RUNTIME=runsc``: a user-space kernel, the Sentry, between the job
and the host's kernel). The rest of the engine asks the tier
(:attr:`service.config.Settings.tier`) rather than compare runtime names, so
what gVisor changes, and why, is read here:

- **Limits cannot change on a running container** (this runsc has no
  ``update``): a request for other limits gets a container made to measure,
  and a compile keeps the request's memory (``live_updates``).
- **The Sentry lives in the container's memory cgroup** (about 45 MB idle), so
  a runtime's own heap (V8, Go's GC) is sized to what is left
  (:meth:`Tier.heap_memory_mb`), and the smallest limits are higher
  (:meth:`Tier.min_memory_mb`).
- **Host tasks**: the Sentry (ptrace platform) serves each guest process with
  host tasks of its own (128 guest processes took 727) and keeps some after
  their processes are gone (a job killing and forking 70 processes in a loop
  added about 90 a second). Were the container's pids cgroup reached, the
  Sentry could not start a thread and the whole sandbox would die. So the
  guest's own nproc is what a job meets (:meth:`Tier.process_limits`), a
  sandbox left with more than ``SENTRY_TASKS_PER_PROCESS`` host tasks per
  allowed process is replaced after its job (:meth:`Tier.sentry_task_ceiling`,
  service/sandbox/lender.py), and the host's pids limit is that ceiling plus
  what one run could leak at twice the measured rate: a backstop no job reaches.
- **The agent is told** (its environment, read once and erased: agent/environment.py):
  an address-space limit at the host's RAM, since gVisor grants any mapping
  where Linux refuses one beyond RAM (agent/jail.py); the guest memory at which
  a step ends as if OOM-killed (agent/memory.py); and to relay a solution's
  output to its interactor, since gVisor has no unix-socket collector to free
  a pipe end parked in flight (agent/relay.py).
- **No fork server**: gVisor's procfs shows any uid a root process's
  environment, descriptors and maps, and the fork server is root's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings
    from ..languages import Language

SENTRY_TASKS_PER_PROCESS = 8
SENTRY_BASE_TASKS = 64
SENTRY_LEAK_PER_SECOND = 200
# The Sentry and its gofer in the container's memory cgroup (about 45 MB idle):
# a Node heap bomb sized to the whole limit crawled through the host's reclaim
# for 21 s; 64 MB lower, it ran out in 7 s.
SENTRY_MEMORY_MB = 64


@dataclass(frozen=True, slots=True)
class Tier:
    """One runtime tier: what the engine does differently under it."""

    name: str  # "runc" or "gvisor", for logs and messages
    docker_runtime: str  # HostConfig.Runtime; "" for Docker's default
    live_updates: bool  # a running container's memory and CPU can be changed
    fork_server: bool  # warm Pythons may be forked from a root process
    user_space_kernel: bool  # gVisor: a Sentry, its host tasks and its memory

    @property
    def label(self) -> str:
        """How a message names the tier: nothing for the default one."""
        return " under gVisor" if self.user_space_kernel else ""

    def min_memory_mb(self, language: Language) -> int:
        """The smallest memory limit at which ``language``'s hello world runs beside the agent."""
        return language.min_memory_mb_gvisor if self.user_space_kernel else language.min_memory_mb

    def heap_memory_mb(self, memory_mb: int) -> int:
        """The memory a job's runtime may size its heap to, under a ``memory_mb`` limit."""
        if not self.user_space_kernel:
            return memory_mb
        return max(memory_mb // 2, memory_mb - SENTRY_MEMORY_MB)

    def agent_environment(self, memory_mb: int) -> list[str]:
        """What the agent is told of the tier, in its container's environment."""
        if not self.user_space_kernel:
            return []
        return [
            f"CODE_ENGINE_JOB_ADDRESS_SPACE_MB={host_ram_mb()}",
            f"CODE_ENGINE_JOB_MEMORY_WATCH_MB={memory_mb}",
            "CODE_ENGINE_RELAY_INTERACTIONS=1",
        ]

    def process_limits(self, settings: Settings, host: dict[str, Any]) -> None:
        """Where fork and thread bombs stop: the pids cgroup (runc), or the guest's nproc.

        runc: the container's pids cgroup, per container; no nproc ulimit, which
        counts the job uid's processes across every container on the host. gVisor's
        kernel counts nproc per uid inside the sandbox alone (so it is per
        container) and enforces it (EAGAIN, as the pids cgroup gives); the agent
        (uid 0) is counted apart from the job. Half the pids limit there: a guest
        process costs the container about 3.5 MB in the Sentry (64 forked Python
        processes peaked at 259 MB, 128 went past 400 MB), so a fork bomb meets
        EAGAIN before the memory limit.
        """
        if not self.user_space_kernel:
            host["PidsLimit"] = settings.pids_limit
            return
        leak = SENTRY_LEAK_PER_SECOND * -(-settings.timeout_ms // 1000)
        host["PidsLimit"] = self.sentry_task_ceiling(settings) + leak
        limit = max(1, settings.pids_limit // 2)
        host["Ulimits"].append({"Name": "nproc", "Soft": limit, "Hard": limit})

    @staticmethod
    def sentry_task_ceiling(settings: Settings) -> int:
        """Host tasks beyond which a gVisor sandbox is not given another job."""
        return SENTRY_BASE_TASKS + SENTRY_TASKS_PER_PROCESS * settings.pids_limit


RUNC = Tier("runc", "", live_updates=True, fork_server=True, user_space_kernel=False)
GVISOR = Tier("gvisor", "runsc", live_updates=False, fork_server=False, user_space_kernel=True)


def tier_of(runtime: str) -> Tier:
    """The tier of Docker runtime ``runtime`` ("" for Docker's default; "runsc" is gVisor)."""
    if runtime == GVISOR.docker_runtime:
        return GVISOR
    if not runtime:
        return RUNC
    # Another runc-like runtime registered under its own name (crun, say).
    return Tier(runtime, runtime, live_updates=True, fork_server=True, user_space_kernel=False)


def host_ram_mb() -> int:
    """This host's RAM (the daemon and dockerd share a host)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
