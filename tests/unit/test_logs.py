"""Log records: JSON in production, and shipped to BetterStack without ever blocking."""

import json
import logging

import httpx

from service.operations.logs import JsonFormatter, LogShipper, ShippingHandler


def record(message: str, **extra) -> logging.LogRecord:
    rec = logging.makeLogRecord(
        {"name": "service.test", "levelname": "INFO", "levelno": 20, "msg": message, **extra}
    )
    return rec


def test_json_formatter_emits_one_object_per_record():
    line = JsonFormatter().format(record("hello %s", args=("world",), job_id="j1"))
    data = json.loads(line)
    assert data["message"] == "hello world"
    assert data["level"] == "info"
    assert data["job_id"] == "j1"
    assert data["dt"].endswith("+00:00")


def test_handler_buffer_is_bounded_and_counts_drops():
    handler = ShippingHandler(capacity=3)
    for i in range(5):
        handler.emit(record(f"m{i}"))
    assert [r["message"] for r in handler.buffer] == ["m2", "m3", "m4"]
    assert handler.dropped == 2


async def test_shipper_sends_batches_with_bearer_token():
    seen = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["authorization"], json.loads(request.content)))
        return httpx.Response(202)

    handler = ShippingHandler()
    for i in range(3):
        handler.emit(record(f"m{i}"))
    shipper = LogShipper("https://in.example/", "tok", handler, httpx.MockTransport(endpoint))
    await shipper.flush()
    assert seen[0][0] == "Bearer tok"
    assert [r["message"] for r in seen[0][1]] == ["m0", "m1", "m2"]
    assert shipper.sent == 3
    assert not handler.buffer


async def test_shipping_failures_are_counted_and_records_kept():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    handler = ShippingHandler()
    handler.emit(record("keep me"))
    shipper = LogShipper("https://in.example/", "tok", handler, httpx.MockTransport(down))
    await shipper.flush()  # never raises
    assert shipper.failures == 1
    assert [r["message"] for r in handler.buffer] == ["keep me"]

    def rejects(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401)

    shipper = LogShipper("https://in.example/", "bad", handler, httpx.MockTransport(rejects))
    await shipper.flush()
    assert shipper.failures == 1
    assert len(handler.buffer) == 1
