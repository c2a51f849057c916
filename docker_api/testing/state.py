"""Objects the fake Engine keeps in memory: containers, images, builds."""

from __future__ import annotations

import hashlib
import signal as signals
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trio

from .streams import FakeAttachPeer

NEVER = "0001-01-01T00:00:00Z"


def now() -> str:
    """Wall-clock timestamp in the Engine's format (only ever displayed)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def fake_digest(kind: str, number: int) -> str:
    """A stable 64-hex id for the ``number``-th object of ``kind``."""
    return hashlib.sha256(f"{kind}-{number}".encode()).hexdigest()


def normalize_image(reference: str) -> str:
    """``"alpine"`` -> ``"alpine:latest"``; references with a tag or digest are kept."""
    last = reference.rsplit("/", 1)[-1]
    if "@" in reference or ":" in last:
        return reference
    return f"{reference}:latest"


def exit_code_for(signal: str) -> int | None:
    """128 + signal number, as for a process killed by ``signal``; None if unknown."""
    name = signal.upper()
    if name.isdigit():
        return 128 + int(name)
    if not name.startswith("SIG"):
        name = f"SIG{name}"
    try:
        return 128 + int(signals.Signals[name])
    except KeyError:
        return None


@dataclass
class FakeContainer:
    """One container as the fake Engine sees it.

    Tests may read everything and set ``stats`` to control what
    ``containers.stats()`` returns.

    Attributes:
        config: The create body exactly as the client sent it.
        status: ``created``, ``running`` or ``exited``.
        signals: Every signal received through ``kill``, in order.
        updates: Every ``update`` body, in order (also merged into ``host_config``).
        attach_peers: Container ends of every attach connection made so far.
        removed: True once removed (the object then leaves ``fake.containers``).
        oom_killed: Reported as ``State.OOMKilled`` (set it before ``exit_container``).
        size_rw: Bytes in its writable layer, as ``/system/df`` reports them.
    """

    id: str
    name: str
    config: dict[str, Any]
    image: str
    image_id: str
    status: str = "created"
    exit_code: int = 0
    started_at: str = NEVER
    finished_at: str = NEVER
    created_at: str = field(default_factory=now)
    host_config: dict[str, Any] = field(default_factory=dict)
    signals: list[str] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    attach_peers: list[FakeAttachPeer] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    removed: bool = False
    oom_killed: bool = False
    size_rw: int = 0
    exits: int = 0
    changed: trio.Event = field(default_factory=trio.Event)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def labels(self) -> dict[str, str]:
        labels = self.config.get("Labels") or {}
        return dict(labels)

    def notify(self) -> None:
        """Wake every task waiting for a state change of this container."""
        self.changed.set()
        self.changed = trio.Event()

    def inspect(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "Created": self.created_at,
            "Image": self.image_id,
            "Config": {**self.config, "Image": self.image, "Labels": self.labels},
            "HostConfig": dict(self.host_config),
            "State": {
                "Status": self.status,
                "Running": self.running,
                "Paused": False,
                "Restarting": False,
                "OOMKilled": self.oom_killed,
                "Dead": False,
                "Pid": 4242 if self.running else 0,
                "ExitCode": self.exit_code,
                "Error": "",
                "StartedAt": self.started_at,
                "FinishedAt": self.finished_at,
            },
        }

    def summary(self) -> dict[str, Any]:
        status = {"created": "Created", "running": "Up 1 second"}.get(
            self.status, f"Exited ({self.exit_code}) 1 second ago"
        )
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "Image": self.image,
            "Command": " ".join(self.config.get("Cmd") or []),
            "Labels": self.labels,
            "State": self.status,
            "Status": status,
        }

    def sample_stats(self) -> dict[str, Any]:
        if self.stats is not None:
            return self.stats
        running = self.running
        limit = int(self.host_config.get("Memory") or 8 * 1024**3)
        return {
            "id": self.id,
            "name": f"/{self.name}",
            "read": now(),
            "preread": NEVER,
            "pids_stats": {"current": 1 if running else 0},
            "memory_stats": {"usage": 8 * 1024**2 if running else 0, "limit": limit},
            "cpu_stats": {
                "cpu_usage": {"total_usage": 1_000_000 if running else 0},
                "system_cpu_usage": 1_000_000_000,
                "online_cpus": 1,
            },
            "precpu_stats": {"cpu_usage": {"total_usage": 0}},
            "blkio_stats": {},
            "networks": {},
        }


@dataclass
class FakeBuild:
    """One ``/build`` or ``/images/create?fromSrc=-`` request the fake received."""

    tag: str
    body: bytes
    dockerfile: str = "Dockerfile"
    labels: dict[str, str] = field(default_factory=dict)
    nocache: bool = False
    imported: bool = False
