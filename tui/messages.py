"""Messages that stats sources and admin requests post to the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from wire.admin import EngineState
from wire.stats import Snapshot


@dataclass
class StatsReceived(Message):
    """An instance published a snapshot."""

    snapshot: Snapshot


@dataclass
class SnapshotRejected(Message):
    """Something on a stats subject that is not a snapshot; `reason` says what is wrong."""

    subject: str
    reason: str


@dataclass
class ConnectionChanged(Message):
    """The link to the message bus went up or down; `detail` says where and why."""

    connected: bool
    detail: str


@dataclass
class AdminResult(Message):
    """The outcome of one admin request: a reply, or `ok=False` with the error."""

    instance: str
    action: str
    ok: bool
    state: EngineState | None = None
    error: str | None = None
