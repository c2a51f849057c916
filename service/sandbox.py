"""The hardened container specification every worker container is created from.

Each setting is here for a reason given beside it; the README's security section
lists them too. The agent is the container's PID 1 and runs as root with only the
capabilities it needs to set jobs up and tear them down; jobs run as uid 10001,
which has no capabilities at all (dropped on the uid switch, and no-new-privileges
stops setuid binaries from handing any back).
"""

from __future__ import annotations

from typing import Any

from .config import Settings

INSTANCE_LABEL = "org.code-engine.instance"
ROLE_LABEL = "org.code-engine.role"
ROLE = "worker"

# What the agent needs, and nothing more:
#   CHOWN, FOWNER       give the job its fresh directories; lock build outputs read-only
#   DAC_OVERRIDE        wipe whatever the job wrote, whatever mode it set
#   SETUID, SETGID      start the job as uid/gid 10001 with no supplementary groups
#   KILL                kill every process of the job when it ends
AGENT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")


def container_config(settings: Settings, *, memory_mb: int | None = None) -> dict[str, Any]:
    """The Engine API body for ``POST /containers/create``."""
    memory = (memory_mb or settings.memory_mb) << 20
    period_us = settings.cpu_period_ms * 1000
    return {
        "Image": settings.image,
        "Hostname": "sandbox",
        "User": "0:0",
        "WorkingDir": "/work",
        # A minimal, explicit environment: nothing of the host or daemon leaks in.
        # The agent gives each job its own, built by the host per language.
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
        "Labels": {INSTANCE_LABEL: settings.instance_id, ROLE_LABEL: ROLE},
        # The agent speaks over stdin/stdout, reached through the attach stream.
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "OpenStdin": True,
        "StdinOnce": False,
        "Tty": False,
        "NetworkDisabled": True,
        "HostConfig": {
            "NetworkMode": "none",  # no interface but loopback
            "Privileged": False,
            "ReadonlyRootfs": True,  # jobs write only to the size-limited tmpfs below
            "Tmpfs": {
                "/work": f"rw,exec,nosuid,nodev,size={settings.scratch_mb}m,mode=755",
                "/tmp": "rw,exec,nosuid,nodev,size=64m,mode=1777",
            },
            "IpcMode": "private",  # own SysV IPC namespace and /dev/shm
            "ShmSize": 16 << 20,
            "CapDrop": ["ALL"],
            "CapAdd": list(AGENT_CAPABILITIES),
            "SecurityOpt": ["no-new-privileges"],  # default seccomp profile stays on
            "PidsLimit": settings.pids_limit,  # fork and thread bombs stop here
            "Memory": memory,
            "MemorySwap": memory,  # equal: no swap
            # A long CFS period with the same share lets a short program run at
            # full speed for its first stretch instead of being throttled at 50 ms.
            "CpuPeriod": period_us,
            "CpuQuota": int(period_us * settings.cpus),
            "Ulimits": [
                {"Name": "nofile", "Soft": 1024, "Hard": 1024},
                {"Name": "core", "Soft": 0, "Hard": 0},
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
