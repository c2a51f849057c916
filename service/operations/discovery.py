"""The NATS service API (``$SRV.PING``, ``$SRV.INFO``, ``$SRV.STATS``), answered by hand.

nats-py's ``nats.micro`` runs each endpoint's handler to completion before it
takes the next message, which would serialize our jobs, and it would time only
the hand-off. The engine answers the same protocol itself instead, so standard
NATS tooling (``nats micro ls``, ``nats micro stats code-engine``) discovers every
instance and sees true per-endpoint request counts, errors and processing time
(from a request's arrival to its reply).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import msgspec

SERVICE_NAME = "code-engine"
ERROR_STATUSES = frozenset({"invalid_request", "busy", "internal_error"})


@dataclass
class EndpointStats:
    name: str
    subject: str
    queue_group: str
    requests: int = 0
    errors: int = 0
    processing_ns: int = 0
    last_error: str = ""

    def record(self, status: str, elapsed_s: float, error: str = "") -> None:
        self.requests += 1
        self.processing_ns += int(elapsed_s * 1e9)
        if status in ERROR_STATUSES:
            self.errors += 1
            self.last_error = f"{status}: {error}"[:200]

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "metadata": {},
        }

    def stats(self) -> dict[str, Any]:
        return {
            **self.info(),
            "num_requests": self.requests,
            "num_errors": self.errors,
            "last_error": self.last_error,
            "processing_time": self.processing_ns,
            "average_processing_time": self.processing_ns // self.requests if self.requests else 0,
            "data": None,
        }


@dataclass
class Discovery:
    instance_id: str
    version: str
    endpoints: dict[str, EndpointStats]
    started: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))

    def subjects(self) -> list[str]:
        """Every subject this instance answers, per the service API's addressing."""
        out = []
        for verb in ("PING", "INFO", "STATS"):
            out += [
                f"$SRV.{verb}",
                f"$SRV.{verb}.{SERVICE_NAME}",
                f"$SRV.{verb}.{SERVICE_NAME}.{self.instance_id}",
            ]
        return out

    def _identity(self, kind: str) -> dict[str, Any]:
        return {
            "type": f"io.nats.micro.v1.{kind}_response",
            "name": SERVICE_NAME,
            "id": self.instance_id,
            "version": self.version,
            "metadata": {},
        }

    def ping(self) -> bytes:
        return msgspec.json.encode(self._identity("ping"))

    def info(self) -> bytes:
        body = {
            **self._identity("info"),
            "description": "Runs untrusted code snippets in hardened containers",
            "endpoints": [e.info() for e in self.endpoints.values()],
        }
        return msgspec.json.encode(body)

    def stats(self) -> bytes:
        started = self.started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        body = {
            **self._identity("stats"),
            "started": started,
            "endpoints": [e.stats() for e in self.endpoints.values()],
        }
        return msgspec.json.encode(body)

    def handler_for(self, subject: str) -> Any:
        verb = subject.split(".")[1]
        return {
            "PING": lambda _: self.ping(),
            "INFO": lambda _: self.info(),
            "STATS": lambda _: self.stats(),
        }[verb]
