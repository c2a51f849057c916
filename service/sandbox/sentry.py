"""Host-side facts about a gVisor sandbox that no job can see: its Sentry's host tasks.

The Sentry (runsc, ptrace platform) keeps host tasks of guest processes long gone,
and a sandbox whose pids cgroup fills dies whole (see :mod:`service.sandbox.spec`).
The count is read where jobs cannot: the container's pids cgroup on the host,
straight from cgroupfs (microseconds) when the daemon shares the host's, or
else from Docker's stats (which answers a repeated one-shot request only at its
next one-second sample).
"""

from __future__ import annotations

from pathlib import Path

from docker_api import DockerClient

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_files(container_id: str) -> list[Path]:
    """Where Docker's cgroupfs and systemd drivers put the container's pids.current (v1, v2)."""
    return [
        CGROUP_ROOT / "pids" / "docker" / container_id / "pids.current",
        CGROUP_ROOT / "pids" / "system.slice" / f"docker-{container_id}.scope" / "pids.current",
        CGROUP_ROOT / "docker" / container_id / "pids.current",
        CGROUP_ROOT / "system.slice" / f"docker-{container_id}.scope" / "pids.current",
    ]


def read_cgroup(container_id: str) -> int | None:
    for path in cgroup_files(container_id):
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            continue
    return None


async def host_tasks(docker: DockerClient, container_id: str) -> int | None:
    """The container's host tasks now, or None when neither source answers.

    Raises:
        DockerError: Docker's stats failed.
    """
    current = read_cgroup(container_id)
    if current is not None:
        return current
    stats = await docker.containers.stats(container_id)
    value = (stats.get("pids_stats") or {}).get("current")
    return value if isinstance(value, int) else None
