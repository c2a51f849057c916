"""Readings from /proc and the cgroup tree, and a description of the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.dockerctl import INSTANCE_LABEL, docker, server_version

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# cgroup v1, cgroupfs driver: one cpuacct group per container under "docker".
DOCKER_CPUACCT = Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads), or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def pids_named(comm: str) -> list[int]:
    """Pids whose /proc/<pid>/comm is ``comm`` (at most 15 characters, as the kernel keeps)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if Path(f"/proc/{name}/comm").read_text().strip() == comm[:15]:
                found.append(int(name))
        except OSError:
            continue
    return found


def container_cpu_s(container_id: str) -> float | None:
    """CPU of one container so far (seconds): its main process and everything it ran."""
    try:
        return int((DOCKER_CPUACCT.parent / container_id / "cpuacct.usage").read_text()) / 1e9
    except (OSError, ValueError):
        return None


class InstanceContainers:
    """CPU of one engine instance's containers, those replaced while measuring included.

    Call :meth:`poll` often (a few times a second): a container's last reading
    before the pool removes it is what it is credited with. Containers are told
    apart by their instance label, asked of Docker once per new container.
    """

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._foreign: set[str] = set()
        self._started = False
        # containerd-shim-runc-v2 per container: it copies the container's stdio.
        self._shim_first: dict[int, float] = {}
        self._shim_last: dict[int, float] = {}

    def _ours(self, container_id: str) -> bool:
        try:
            label = docker(
                "inspect",
                "--format",
                f'{{{{index .Config.Labels "{INSTANCE_LABEL}"}}}}',
                container_id,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return label == self.instance_id

    def poll(self) -> None:
        try:
            entries = os.listdir(DOCKER_CPUACCT.parent)
        except OSError:
            return
        for entry in entries:
            if len(entry) != 64 or entry in self._foreign:
                continue
            usage = container_cpu_s(entry)
            if usage is None:
                continue
            if entry not in self._last:
                if not self._ours(entry):
                    self._foreign.add(entry)
                    continue
                # Present at the start: count from now; born later: its whole life.
                self._first[entry] = 0.0 if self._started else usage
            self._last[entry] = usage
        self._poll_shims()

    def _poll_shims(self) -> None:
        for pid in pids_named("containerd-shim"):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ident = argv[argv.index(b"-id") + 1].decode() if b"-id" in argv[:-1] else ""
            if ident not in self._last:
                continue
            usage = cpu_seconds(pid)
            if usage is None:
                continue
            if pid not in self._shim_last:
                self._shim_first[pid] = 0.0 if self._started else usage
            self._shim_last[pid] = usage

    def start(self) -> None:
        self.poll()
        self._started = True

    def used_s(self) -> float:
        """CPU of the containers' cgroups since :meth:`start`."""
        self.poll()
        return sum(self._last[c] - self._first[c] for c in self._last)

    def shims_used_s(self) -> float:
        """CPU of the containers' containerd-shim processes since :meth:`start`."""
        return sum(self._shim_last[p] - self._shim_first[p] for p in self._shim_last)

    @property
    def seen(self) -> int:
        return len(self._last)


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass
class CpuMeter:
    """CPU seconds used by named parties between :meth:`start` and :meth:`stop`."""

    pids: dict[str, list[int]]
    before: dict[str, float] | None = None
    used: dict[str, float] | None = None

    def _read(self) -> dict[str, float]:
        readings = {
            name: sum(cpu_seconds(pid) or 0.0 for pid in pids) for name, pids in self.pids.items()
        }
        readings["machine (all cores)"] = machine_busy_s()
        return readings

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> dict[str, float]:
        assert self.before is not None
        after = self._read()
        self.used = {name: after[name] - self.before.get(name, 0.0) for name in after}
        return self.used


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (done.stdout or done.stderr).decode(errors="replace").strip()
    return text.splitlines()[0] if text else "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _memory() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        return f"{kb / (1 << 20):.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


HOST_TOOLS = {
    "python": ["/usr/bin/python3", "--version"],
    "node": ["node", "--version"],
    "go": ["go", "version"],
    "g++": ["g++", "--version"],
}


def image_tools(image: str) -> dict[str, str]:
    """The same versions inside the worker image (one short ``docker run``)."""
    script = "; ".join(f"{' '.join(argv)} 2>&1 | head -1" for argv in HOST_TOOLS.values())
    script = script.replace("/usr/bin/python3", "python3")
    argv = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c"]
    try:
        done = subprocess.run(
            [*argv, script],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    lines = done.stdout.decode(errors="replace").splitlines()
    return dict(zip(HOST_TOOLS, lines, strict=False))


def busy_cores(seconds: float = 2.0) -> float:
    """How many cores something was using over the next ``seconds`` (anything on the host)."""
    before = machine_busy_s()
    time.sleep(seconds)
    return (machine_busy_s() - before) / seconds


def describe_machine(image: str) -> dict[str, object]:
    return {
        "busy_cores_before": round(busy_cores(), 2),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory": _memory(),
        "os": _os_name(),
        "kernel": platform.release(),
        "docker": server_version(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "host_tools": {name: _first_line(argv) for name, argv in HOST_TOOLS.items()},
        "image_tools": image_tools(image),
    }
