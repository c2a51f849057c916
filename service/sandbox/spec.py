"""The hardened container specification every worker container is created from.

Each setting is here for a reason given beside it; docs/explanation/security.md
lists them too. The agent is the container's PID 1 and runs as root with only the
capabilities it needs to set jobs up and tear them down; jobs run as the
container's job uid (one of ``JOB_UIDS``), which has no capabilities at all
(dropped on the uid switch, and no-new-privileges stops setuid binaries from
handing any back).
"""

from __future__ import annotations

import os
from typing import Any

from agent.layout import JOB_UIDS
from service.config import Settings

from .job_messages import warm_templates

INSTANCE_LABEL = "org.code-engine.instance"
ROLE_LABEL = "org.code-engine.role"
ROLE = "worker"

# What the agent needs, and nothing more:
#   CHOWN, FOWNER       give the job its fresh directories; lock build outputs read-only
#   DAC_OVERRIDE        wipe whatever the job wrote, whatever mode it set
#   SETUID, SETGID      start the job as its uid/gid with no supplementary groups
#   KILL                kill every process of the job when it ends
AGENT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")


# Inodes per tmpfs. Without a cap a tmpfs allows about one inode per page of
# host RAM: a job could create a million empty files, and the agent's wipe
# between jobs would outlast the host's grace period. A Go build with its cache
# takes a few hundred.
WORK_INODES = 32768
TMP_INODES = 8192
SHM_INODES = 1024
SHM_MB = 16
TMP_MB = 64
# The steps' own RLIMIT_FSIZE (set by the agent) is what jobs meet; this hard
# cap stops anything in the container writing a file larger than the workdir.
MIN_FSIZE = 64 << 20


# gVisor's Sentry serves the sandbox's processes with host tasks of its own
# (ptrace platform: a stub process and its threads for each guest process;
# 128 guest processes took 727 host tasks), and this runsc keeps some of them
# after their guest processes are gone: a job killing and forking 70 processes
# in a loop added about 90 host tasks a second. Were the container's pids cgroup
# reached, the Sentry could not start a thread and the whole sandbox would die.
# So under runsc the guest's own nproc is what a job meets (_process_limits); a
# sandbox left with more host tasks than SENTRY_TASKS_PER_PROCESS per allowed
# process is replaced after its job (sentry_task_ceiling); and the host's
# PidsLimit is that ceiling plus what one run could leak at twice the measured
# rate (sentry_host_tasks): a backstop no job reaches.
SENTRY_TASKS_PER_PROCESS = 8
SENTRY_BASE_TASKS = 64
SENTRY_LEAK_PER_SECOND = 200


def container_config(
    settings: Settings, *, memory_mb: int | None = None, job_uid: int = JOB_UIDS[0]
) -> dict[str, Any]:
    """The Engine API body for ``POST /containers/create``; jobs in it run as ``job_uid``."""
    config = _config(settings, memory_mb=memory_mb)
    # Per-uid kernel quotas (pending signals, message-queue bytes, inotify
    # instances, pipe buffers) count across containers: a uid of its own keeps
    # one container's jobs from using up another's.
    config["Env"].append(f"CODE_ENGINE_JOB_UID={job_uid}")
    # Where the agent has no cgroup counter (gVisor), a step's CPU time from the
    # process table is held to what this share allows (agent/cputime.py).
    config["Env"].append(f"CODE_ENGINE_JOB_CPUS={max(settings.cpus, settings.compile_cpus):g}")
    if settings.warm_starts:
        # The runs whose interpreter the agent starts ahead (agent/warm.py).
        config["Env"].append(f"CODE_ENGINE_WARM={warm_templates(settings, memory_mb)}")
    if settings.runtime:
        # e.g. runsc: gVisor's user-space kernel between the job and the host's.
        config["HostConfig"]["Runtime"] = settings.runtime
    _process_limits(settings, config["HostConfig"])
    if settings.runtime == "runsc":
        # gVisor grants any mapping; Linux refuses one beyond RAM (agent/jail.py).
        config["Env"].append(f"CODE_ENGINE_JOB_ADDRESS_SPACE_MB={host_ram_mb()}")
        # The guest reaching the whole limit ends the step (agent/memory.py).
        config["Env"].append(f"CODE_ENGINE_JOB_MEMORY_WATCH_MB={memory_mb or settings.memory_mb}")
        # No unix-socket collector frees a pipe end parked in flight: the agent
        # carries the job's output to its interactor itself (agent/relay.py).
        config["Env"].append("CODE_ENGINE_RELAY_INTERACTIONS=1")
    return config


def host_ram_mb() -> int:
    """This host's RAM (the daemon and dockerd share a host)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20


def sentry_task_ceiling(settings: Settings) -> int:
    """Host tasks beyond which a gVisor sandbox is not given another job."""
    return SENTRY_BASE_TASKS + SENTRY_TASKS_PER_PROCESS * settings.pids_limit


def sentry_host_tasks(settings: Settings) -> int:
    """The host pids limit of a gVisor sandbox: above what its longest run could reach."""
    leak = SENTRY_LEAK_PER_SECOND * -(-settings.timeout_ms // 1000)
    return sentry_task_ceiling(settings) + leak


def _process_limits(settings: Settings, host: dict[str, Any]) -> None:
    """Where fork and thread bombs stop: the pids cgroup (runc), or the guest's nproc (runsc).

    runc: the container's pids cgroup, per container; no nproc ulimit, which
    counts the job uid's processes across every container on the host. runsc:
    gVisor's kernel counts nproc per uid inside the sandbox alone (so it is per
    container), and gVisor enforces it (EAGAIN, as the pids cgroup gives); the
    agent (uid 0) is counted apart from the job. Half the pids limit there: a
    guest process costs the container about 3.5 MB in the Sentry (64 forked
    Python processes peaked at 259 MB, 128 went past 400 MB), so a fork bomb
    meets EAGAIN before the memory limit.
    """
    if settings.runtime != "runsc":
        host["PidsLimit"] = settings.pids_limit
        return
    host["PidsLimit"] = sentry_host_tasks(settings)
    limit = max(1, settings.pids_limit // 2)
    host["Ulimits"].append({"Name": "nproc", "Soft": limit, "Hard": limit})


def _config(settings: Settings, *, memory_mb: int | None) -> dict[str, Any]:
    memory = (memory_mb or settings.memory_mb) << 20
    period_us = settings.cpu_period_ms * 1000
    fsize = max(settings.scratch_mb << 20, settings.file_size_limit, MIN_FSIZE)
    return {
        "Image": settings.image,
        "Hostname": "sandbox",
        "User": "0:0",
        "WorkingDir": "/work",
        # A minimal, explicit environment: nothing of the host or daemon leaks in.
        # The agent gives each job its own, built by the host per language.
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
        "Labels": {INSTANCE_LABEL: settings.instance_id, ROLE_LABEL: ROLE},
        # The agent speaks over stdin/stdout, reached through the attach stream:
        # the host never reads, writes or chowns a path inside the container.
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "OpenStdin": True,
        "StdinOnce": False,
        "Tty": False,
        "NetworkDisabled": True,
        "HostConfig": {
            "NetworkMode": "none",  # no interface but loopback, no route anywhere
            "Privileged": False,
            # No Binds, Mounts, VolumesFrom or Devices: no host path (and never the
            # Docker socket) is visible inside.
            "ReadonlyRootfs": True,  # jobs write only to the size-limited tmpfs below
            # Every writable place is a tmpfs with a size and an inode cap: it lives
            # in the container's memory cgroup, never on the host disk, and the
            # agent wipes all of it between jobs. nosuid and nodev everywhere.
            # /work and /tmp stay exec: compiled programs run from /work/build,
            # and a job that can write /work/run could run code from there anyway.
            "Tmpfs": {
                "/work": (
                    f"rw,exec,nosuid,nodev,size={settings.scratch_mb}m,"
                    f"nr_inodes={WORK_INODES},mode=755"
                ),
                "/tmp": f"rw,exec,nosuid,nodev,size={TMP_MB}m,nr_inodes={TMP_INODES},mode=1777",
                # Replaces Docker's own /dev/shm mount, which takes no inode cap.
                "/dev/shm": (
                    f"rw,noexec,nosuid,nodev,size={SHM_MB}m,nr_inodes={SHM_INODES},mode=1777"
                ),
            },
            "IpcMode": "private",  # own SysV IPC and POSIX message queue namespace
            "CapDrop": ["ALL"],
            "CapAdd": list(AGENT_CAPABILITIES),
            # setuid binaries and file capabilities cannot raise a job's privileges.
            # No "seccomp=" entry: Docker's default seccomp profile stays on (no
            # mount, unshare, keyctl, bpf, ptrace of other users...).
            "SecurityOpt": ["no-new-privileges"],
            "Memory": memory,
            "MemorySwap": memory,  # equal: no swap
            "OomKillDisable": False,  # a job over the limit is killed, not frozen
            # A long CFS period with the same share lets a short program run at
            # full speed for its first stretch instead of being throttled at 50 ms.
            "CpuPeriod": period_us,
            "CpuQuota": int(period_us * settings.cpus),
            # PidsLimit and, under gVisor, an nproc ulimit: _process_limits.
            "Ulimits": [
                {"Name": "nofile", "Soft": 1024, "Hard": 1024},
                {"Name": "fsize", "Soft": fsize, "Hard": fsize},
                {"Name": "core", "Soft": 0, "Hard": 0},  # no core files to fill the tmpfs
            ],
            # Results travel over the attach stream; nothing is written to the host disk.
            "LogConfig": {"Type": "none", "Config": {}},
            "Init": False,  # the agent is PID 1 and reaps orphans itself
            "AutoRemove": False,
            "RestartPolicy": {"Name": "no"},
        },
    }


def instance_filter(instance_id: str) -> dict[str, list[str]]:
    """A ``containers.list`` filter for this instance's workers only."""
    return {"label": [f"{INSTANCE_LABEL}={instance_id}", f"{ROLE_LABEL}={ROLE}"]}
