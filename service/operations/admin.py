"""Admin requests on ``code-engine.admin.<instance>``: pause, resume, drain, recycle, resize.

Request: ``{"action": "pause" | "resume" | "drain" | "recycle" | "resize",
"container": "<short id>" (recycle), "workers": N (resize)}``. Reply:
``{"ok": bool, "state": "running" | "paused" | "draining", "error": str | null}``.
Anyone who can publish here controls the instance: protect the subject with NATS
permissions in production (README, "Admin and permissions").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from service.engine import Engine

log = logging.getLogger(__name__)

ADMIN_PREFIX = "code-engine.admin"


class AdminRequest(msgspec.Struct, frozen=True):
    action: str
    container: str | None = None
    workers: int | None = None


_decoder = msgspec.json.Decoder(AdminRequest)


class Admin:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self, payload: bytes) -> bytes:
        try:
            request = _decoder.decode(payload)
            error = self.apply(request)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            error = f"bad admin request: {exc}"
        reply: dict[str, Any] = {"ok": error is None, "state": self._engine.state, "error": error}
        return msgspec.json.encode(reply)

    def apply(self, request: AdminRequest) -> str | None:
        engine = self._engine
        log.info("admin: %s", request)
        if request.action == "pause":
            engine.pause()
        elif request.action == "resume":
            engine.resume()
        elif request.action == "drain":
            engine.drain()
        elif request.action == "recycle":
            if not request.container:
                return "recycle needs 'container' (a short id)"
            if not engine.pool.recycle(request.container):
                return f"no container {request.container!r} in this pool"
        elif request.action == "resize":
            if request.workers is None or not 1 <= request.workers <= engine.settings.concurrency:
                return f"resize needs 'workers' between 1 and {engine.settings.concurrency}"
            engine.pool.resize(request.workers)
        else:
            return f"unknown action {request.action!r}"
        return None
