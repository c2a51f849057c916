"""Logging: JSON lines in production, readable lines elsewhere, optionally shipped to BetterStack.

Shipping never blocks or slows a job: the handler only appends to a bounded
buffer (dropping the oldest records when it is full, and counting them); a
background task sends batches over HTTP with the source token as bearer.
Failures are counted and logged locally, never raised.
"""

from __future__ import annotations

import collections
import datetime
import logging
import sys
from typing import Any

import httpx
import msgspec
import trio

BUFFER_RECORDS = 10_000
BATCH_RECORDS = 500
FLUSH_INTERVAL_S = 1.0

_encoder = msgspec.json.Encoder()
_RESERVED = set(vars(logging.makeLogRecord({})))


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "dt": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    if record.exc_info:
        fields["exception"] = logging.Formatter().formatException(record.exc_info)
    for key, value in vars(record).items():
        if key not in _RESERVED and not key.startswith("_"):
            fields[key] = value if isinstance(value, str | int | float | bool) else repr(value)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _encoder.encode(_record_fields(record)).decode()


class ShippingHandler(logging.Handler):
    """Keeps the newest records in a bounded buffer for :class:`LogShipper`."""

    def __init__(self, capacity: int = BUFFER_RECORDS) -> None:
        super().__init__()
        self.buffer: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == __name__:
            return  # the shipper's own complaints stay local
        try:
            if len(self.buffer) == self.buffer.maxlen:
                self.dropped += 1
            self.buffer.append(_record_fields(record))
        except Exception:
            self.handleError(record)


def configure(*, production: bool, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if production:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "asyncio", "trio_asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # nats-py hands every error to the intake's error callback, which logs it
    # once; its own logger would add a traceback for the same event.
    logging.getLogger("nats").setLevel(logging.CRITICAL)


class LogShipper:
    """Sends buffered records to an HTTP ingestion endpoint in batches."""

    def __init__(
        self,
        url: str,
        token: str,
        handler: ShippingHandler,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.handler = handler
        self.failures = 0
        self.sent = 0
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10.0,
            transport=transport,
        )

    async def flush(self) -> None:
        """Send everything buffered, batch by batch; on failure keep what was not sent."""
        log = logging.getLogger(__name__)
        while self.handler.buffer:
            batch = [
                self.handler.buffer.popleft()
                for _ in range(min(BATCH_RECORDS, len(self.handler.buffer)))
            ]
            try:
                response = await self._client.post(self.url, content=_encoder.encode(batch))
                ok = response.status_code < 300
                detail = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                ok, detail = False, repr(exc)
            if not ok:
                self.failures += 1
                self.handler.buffer.extendleft(reversed(batch))
                log.warning("log shipping failed (%d so far): %s", self.failures, detail)
                return
            self.sent += len(batch)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                await trio.sleep(FLUSH_INTERVAL_S)
                await self.flush()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(3):
                await self.flush()
                await self._client.aclose()


async def ship_logs(
    url: str, token: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Attach a shipping handler to the root logger and ship until cancelled."""
    handler = ShippingHandler()
    logging.getLogger().addHandler(handler)
    try:
        await LogShipper(url, token, handler).run(task_status=task_status)
    finally:
        logging.getLogger().removeHandler(handler)
