"""A fake of :class:`gateway.engine.Engine` for unit tests: no NATS, replies made up."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from wire import Kind
from wire.languages import LanguageInfo, LanguagesReply

from ..errors import EngineUnavailable


def language(
    name: str, aliases: list[str], main_file: str, *, compiled: bool = False, version: str = ""
) -> LanguageInfo:
    """A language as a daemon lists it, its display name and extensions made up from the rest."""
    extension = main_file.rsplit(".", 1)[-1]
    return LanguageInfo(
        name=name,
        display_name=f"{name} {version}".strip(),
        version=version,
        aliases=aliases,
        extensions=[extension],
        main_file=main_file,
        compiled=compiled,
    )


PYTHON = language("python", ["python", "py"], "main.py")


class FakeEngine:
    """Answers execute requests with ``answer(kind, request)``; records what it got."""

    def __init__(self, answer: Callable[[Kind, dict[str, Any]], dict[str, Any]] | None = None):
        self.sent: list[tuple[Kind, dict[str, Any]]] = []
        self.answer = answer or (lambda kind, request: ok_reply(request))
        self.connected = True
        self.max_payload = 4096
        self.down = False

    async def request(self, kind: Kind, payload: bytes, *, timeout_s: float | None = None) -> bytes:
        if self.down:
            raise EngineUnavailable("no engine is running")
        request = json.loads(payload)
        self.sent.append((kind, request))
        return json.dumps(self.answer(kind, request)).encode()

    async def languages(self) -> list[LanguageInfo]:
        if self.down:
            raise EngineUnavailable("no engine is running")
        return (await self.catalog()).languages

    async def catalog(self) -> LanguagesReply:
        if self.down:
            raise EngineUnavailable("no engine is running")
        return LanguagesReply(instance="fake", languages=[PYTHON])


def ok_reply(request: dict[str, Any], **fields: Any) -> dict[str, Any]:
    reply = {
        "id": str(request.get("id") or "x"),
        "language": request.get("language", ""),
        "success": True,
        "status": "ok",
        "output": "42\n",
        "error": "",
        "exit_code": 0,
        "signal": None,
        "execution_time_ms": 5.0,
        "compile_time_ms": None,
        "memory_kb": 12000,
        "truncated": False,
        "cpu_time_ms": 2.0,
    }
    reply.update(fields)
    return reply
