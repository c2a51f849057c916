"""The few `docker` CLI calls the benchmark makes, and the label that finds its leftovers.

Every container the benchmark starts itself carries ``org.code-engine.bench=<run id>``;
the engine's own containers carry its instance label. Cleanup removes both.
"""

from __future__ import annotations

import subprocess

BENCH_LABEL = "org.code-engine.bench"
INSTANCE_LABEL = "org.code-engine.instance"


def docker(*args: str, timeout: float = 60.0, stdin: bytes | None = None) -> str:
    """Run ``docker ARGS`` and return its stdout; raises CalledProcessError on failure."""
    done = subprocess.run(
        ["docker", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout.decode(errors="replace").strip()


def containers_with(label: str) -> list[str]:
    """Ids of all containers (running or not) carrying ``label`` (``key`` or ``key=value``)."""
    try:
        return docker("ps", "-aq", "--filter", f"label={label}").split()
    except (OSError, subprocess.SubprocessError):
        return []


def remove_containers(label: str) -> int:
    """Force-remove every container carrying ``label``; returns how many there were."""
    ids = containers_with(label)
    if ids:
        try:
            docker("rm", "-f", *ids, timeout=120)
        except (OSError, subprocess.SubprocessError):
            pass
    return len(ids)


def running_containers() -> list[tuple[str, str, str]]:
    """(id, image, labels) of every running container."""
    try:
        out = docker("ps", "--format", "{{.ID}}\t{{.Image}}\t{{.Labels}}")
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines():
        ident, image, labels = [*line.split("\t"), "", ""][:3]
        rows.append((ident, image, labels))
    return rows


def image_id(image: str) -> str | None:
    try:
        return docker("image", "inspect", "--format", "{{.Id}}", image)
    except (OSError, subprocess.SubprocessError):
        return None


def server_version() -> str:
    try:
        return docker("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"


def container_pid(container_id: str) -> int | None:
    """The host pid of a container's main process."""
    try:
        return int(docker("inspect", "--format", "{{.State.Pid}}", container_id)) or None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
