"""The gateway's Prometheus metrics, in a registry of its own, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "code_engine_gateway_requests",
            "HTTP requests answered, by API, route template and status code",
            ["api", "route", "code"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "code_engine_gateway_request_seconds",
            "time from a request's arrival to its answer, by API",
            ["api"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "code_engine_gateway_in_flight", "requests being answered", registry=self.registry
        )
        self.refused = Counter(
            "code_engine_gateway_refused",
            "requests refused before reaching the engine, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.engine_unavailable = Counter(
            "code_engine_gateway_engine_unavailable",
            "requests answered 503 because no daemon answered",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
