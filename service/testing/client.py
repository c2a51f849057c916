"""Requests to a running engine from synchronous test code, through engine_client.

Each call connects, sends and waits for the reply in a loop of its own
(:func:`asyncio.run`); from asyncio code, use :class:`engine_client.EngineClient`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine_client import EngineClient, build_request
from wire.subjects import COMPILER_SUBJECT

__all__ = ["run_code", "send", "send_many"]


def send(
    nats_url: str,
    request: dict | bytes,
    *,
    subject: str = COMPILER_SUBJECT,
    timeout: float = 60.0,
) -> dict:
    """Send one request (a dict as JSON, or raw bytes) and return its reply."""

    async def go() -> dict:
        async with await EngineClient.connect(nats_url) as client:
            return await client.send(request, subject=subject, timeout=timeout)

    return asyncio.run(go())


def send_many(
    nats_url: str,
    requests: list[dict],
    *,
    subject: str = COMPILER_SUBJECT,
    timeout: float = 120.0,
) -> list[dict]:
    """Send ``requests`` all at once over one connection; their replies in the same order."""

    async def go() -> list[dict]:
        async with await EngineClient.connect(nats_url) as client:
            return list(
                await asyncio.gather(
                    *(client.send(r, subject=subject, timeout=timeout) for r in requests)
                )
            )

    return asyncio.run(go())


def run_code(nats_url: str, language: str, code: str, **fields: Any) -> dict:
    """Run ``code`` (the request's other ``fields`` as build_request takes them; ``subject``
    for another subject) and return the reply."""
    subject = fields.pop("subject", COMPILER_SUBJECT)
    return send(nats_url, build_request(language, code, **fields), subject=subject)
