"""Decoding of the JSON progress streams sent by ``/build`` and ``/images/create``.

The Engine writes one JSON object per message, normally each on its own line
(``\\r\\n`` terminated). Older daemons and some proxies glue several objects onto
one line, so every line is scanned for as many objects as it holds.

A message carrying ``error`` or ``errorDetail`` means the operation failed even
though the HTTP status was 200; :func:`iter_progress` turns it into
:class:`~docker_api.errors.BuildFailed`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from .errors import BuildFailed, ProtocolError

_decoder = json.JSONDecoder()


def decode_progress_line(line: str) -> list[dict[str, Any]]:
    """Return the JSON objects in one line of a progress stream.

    Raises:
        ProtocolError: The line holds something other than JSON objects.
    """
    messages: list[dict[str, Any]] = []
    index = 0
    end = len(line)
    while True:
        while index < end and line[index].isspace():
            index += 1
        if index == end:
            return messages
        try:
            message, index = _decoder.raw_decode(line, index)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"malformed progress message: {line!r}") from exc
        if not isinstance(message, dict):
            raise ProtocolError(f"progress message is not an object: {line!r}")
        messages.append(message)


def progress_error(message: dict[str, Any]) -> str | None:
    """Return the error text of a progress message, or None if it is not an error."""
    if "error" not in message and "errorDetail" not in message:
        return None
    error = message.get("error")
    if isinstance(error, str) and error:
        return error
    detail = message.get("errorDetail")
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        return str(detail["message"])
    return json.dumps(message)


async def iter_progress(lines: AsyncIterable[str]) -> AsyncIterator[dict[str, Any]]:
    """Yield each progress message decoded from ``lines``.

    Raises:
        BuildFailed: On the first error message; messages before it have been
            yielded, nothing after it is read.
        ProtocolError: A line is not JSON.
    """
    async for line in lines:
        for message in decode_progress_line(line):
            error = progress_error(message)
            if error is not None:
                raise BuildFailed(error)
            yield message
