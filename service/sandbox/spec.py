"""The hardened container specification every worker container is created from.

Each setting is here for a reason given beside it; docs/explanation/security.md
lists them too. The agent is the container's PID 1 and runs as root with only the
capabilities it needs to set jobs up and tear them down; jobs run as the
container's job uid (one of ``JOB_UIDS``), which has no capabilities at all
(dropped on the uid switch, and no-new-privileges stops setuid binaries from
handing any back).
"""

from __future__ import annotations

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
    tier = settings.tier
    if tier.docker_runtime:
        # e.g. runsc: gVisor's user-space kernel between the job and the host's.
        config["HostConfig"]["Runtime"] = tier.docker_runtime
    # Where fork and thread bombs stop, and what the agent is told of the tier
    # (service/sandbox/tier.py says what gVisor changes, and why).
    tier.process_limits(settings, config["HostConfig"])
    config["Env"] += tier.agent_environment(memory_mb or settings.memory_mb)
    return config


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
