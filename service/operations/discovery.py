"""The NATS service API (``$SRV.PING``, ``$SRV.INFO``, ``$SRV.STATS``), answered by hand.

nats-py's ``nats.micro`` runs each endpoint's handler to completion before it
takes the next message, which would serialize our jobs, and it would time only
the hand-off. The engine answers the same protocol itself instead, so standard
NATS tooling (``nats micro ls``, ``nats micro stats code-engine``) discovers every
instance and sees true per-endpoint request counts, errors and processing time
(from a request's arrival to its reply).

The payloads are the protocol's (``io.nats.micro.v1.*_response``), not ours,
so they are typed here rather than in :mod:`wire`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from wire.requests import PROTOCOL_VERSION
from wire.status import Status
from wire.subjects import SERVICE_NAME

ERROR_STATUSES = frozenset({Status.INVALID_REQUEST, Status.BUSY, Status.INTERNAL_ERROR})
VERBS = ("PING", "INFO", "STATS")
LAST_ERROR_CHARS = 200
DESCRIPTION = "Runs untrusted code snippets in hardened containers"
# What INFO tells a client about the requests this instance understands.
INFO_METADATA = {"protocol": str(PROTOCOL_VERSION)}


class EndpointInfo(msgspec.Struct, kw_only=True):
    name: str
    subject: str
    queue_group: str
    metadata: dict[str, str] = {}


class EndpointReport(EndpointInfo, kw_only=True):
    num_requests: int
    num_errors: int
    last_error: str
    processing_time: int  # nanoseconds, all requests together
    average_processing_time: int
    data: None = None


class PingResponse(msgspec.Struct, kw_only=True):
    type: str
    name: str
    id: str
    version: str
    metadata: dict[str, str] = {}


class InfoResponse(PingResponse, kw_only=True):
    description: str
    endpoints: list[EndpointInfo]


class StatsResponse(PingResponse, kw_only=True):
    started: str  # RFC 3339 in UTC, milliseconds
    endpoints: list[EndpointReport]


@dataclass
class EndpointStats:
    """One endpoint (an execute subject) and what it answered so far."""

    name: str
    subject: str
    queue_group: str
    requests: int = 0
    errors: int = 0
    processing_ns: int = 0
    last_error: str = ""

    def record(self, status: str, elapsed_s: float, error: str = "") -> None:
        """Count one reply; the refusals (invalid, busy, internal error) count as errors."""
        self.requests += 1
        self.processing_ns += int(elapsed_s * 1e9)
        if status in ERROR_STATUSES:
            self.errors += 1
            self.last_error = f"{status}: {error}"[:LAST_ERROR_CHARS]

    def info(self) -> EndpointInfo:
        return EndpointInfo(name=self.name, subject=self.subject, queue_group=self.queue_group)

    def report(self) -> EndpointReport:
        return EndpointReport(
            name=self.name,
            subject=self.subject,
            queue_group=self.queue_group,
            num_requests=self.requests,
            num_errors=self.errors,
            last_error=self.last_error,
            processing_time=self.processing_ns,
            average_processing_time=self.processing_ns // self.requests if self.requests else 0,
        )


_encoder = msgspec.json.Encoder()


def _type(verb: str) -> str:
    return f"io.nats.micro.v1.{verb}_response"


@dataclass
class Discovery:
    """This instance's answers to the service API."""

    instance_id: str
    version: str
    endpoints: dict[str, EndpointStats]
    # More for INFO's metadata, asked at each INFO (the languages served, as JSON).
    metadata: Callable[[], dict[str, str]] = dict
    started: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))

    def subjects(self) -> list[str]:
        """Every subject this instance answers, per the service API's addressing."""
        out = []
        for verb in VERBS:
            out += [
                f"$SRV.{verb}",
                f"$SRV.{verb}.{SERVICE_NAME}",
                f"$SRV.{verb}.{SERVICE_NAME}.{self.instance_id}",
            ]
        return out

    def ping(self) -> bytes:
        return _encoder.encode(
            PingResponse(
                type=_type("ping"), name=SERVICE_NAME, id=self.instance_id, version=self.version
            )
        )

    def info(self) -> bytes:
        return _encoder.encode(
            InfoResponse(
                type=_type("info"),
                name=SERVICE_NAME,
                id=self.instance_id,
                version=self.version,
                description=DESCRIPTION,
                metadata={**INFO_METADATA, **self.metadata()},
                endpoints=[e.info() for e in self.endpoints.values()],
            )
        )

    def stats(self) -> bytes:
        return _encoder.encode(
            StatsResponse(
                type=_type("stats"),
                name=SERVICE_NAME,
                id=self.instance_id,
                version=self.version,
                started=self.started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                endpoints=[e.report() for e in self.endpoints.values()],
            )
        )

    def handler_for(self, subject: str) -> Callable[[bytes], bytes]:
        """The handler of one of :meth:`subjects`.

        Raises:
            ValueError: ``subject`` is not a service API subject.
        """
        parts = subject.split(".")
        if parts[0] != "$SRV" or len(parts) < 2 or parts[1] not in VERBS:
            raise ValueError(f"not a service API subject: {subject!r}")
        answer = {"PING": self.ping, "INFO": self.info, "STATS": self.stats}[parts[1]]
        return lambda _request: answer()
