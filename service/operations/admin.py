"""Admin requests on ``code-engine.admin.<instance>``: pause, resume, drain, recycle, resize.

The messages are :mod:`wire.admin`'s; this module carries them out against an
:class:`AdminControls` and answers with the state that results. Anyone who can
publish on the subject controls the instance: protect it with NATS permissions
in production (docs/how-to/secure-nats.md).
"""

from __future__ import annotations

import logging
from typing import Protocol, assert_never

from wire.admin import (
    AdminAction,
    AdminReply,
    AdminRequest,
    EngineState,
    decode_request,
    encode_reply,
)
from wire.errors import AdminRequestError

log = logging.getLogger(__name__)


class AdminControls(Protocol):
    """What admin requests can do to an instance."""

    @property
    def state(self) -> EngineState: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def drain(self) -> None: ...

    def recycle(self, container: str) -> bool:
        """Replace the container whose id starts with ``container``; False if none does."""
        ...

    def resize(self, workers: int) -> None:
        """Keep ``workers`` warm containers ready (already checked against the bounds)."""
        ...


class Admin:
    """The handler of the admin subject: request bytes in, reply bytes out.

    Args:
        controls: what the requests act on.
        max_workers: the most warm containers ``resize`` may ask for (the concurrency).
    """

    def __init__(self, controls: AdminControls, *, max_workers: int) -> None:
        self._controls = controls
        self._max_workers = max_workers

    def __call__(self, payload: bytes) -> bytes:
        """The reply to one request: always one, whatever the payload or the controls do."""
        try:
            request = decode_request(payload)
        except AdminRequestError as exc:
            log.warning("admin: %s", exc)
            error: str | None = str(exc)
        else:
            try:
                error = self.apply(request)
            except Exception:
                log.exception("admin: %s failed", request.action)
                error = f"{request.action} failed inside the engine (see its log)"
        reply = AdminReply(ok=error is None, state=self._controls.state, error=error)
        return encode_reply(reply)

    def apply(self, request: AdminRequest) -> str | None:
        """Carry out ``request``; return why not, or None when done."""
        log.info("admin: %s", request)
        controls = self._controls
        match request.action:
            case AdminAction.PAUSE:
                controls.pause()
            case AdminAction.RESUME:
                controls.resume()
            case AdminAction.DRAIN:
                controls.drain()
            case AdminAction.RECYCLE:
                if not request.container:
                    return "recycle needs 'container' (a short id)"
                if not controls.recycle(request.container):
                    return f"no container {request.container!r} in this pool"
            case AdminAction.RESIZE:
                workers = request.workers
                if workers is None or not 1 <= workers <= self._max_workers:
                    return f"resize needs 'workers' between 1 and {self._max_workers}"
                controls.resize(workers)
            case _:
                assert_never(request.action)
        return None
