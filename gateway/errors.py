"""The gateway's exceptions, one root, each leaf named after what happened::

    GatewayError
    ├── SettingsError        a CODE_ENGINE_GATEWAY_* setting does not parse or is out of range
    ├── EngineUnavailable    no daemon answered in time, or NATS is unreachable
    ├── StoreError           the submissions bucket could not be read or written
    └── Refused              a client's request is refused: an HTTP status and a message
        ├── NotFound         404: no such route, token or language
        ├── Unprocessable    422: a field means nothing here, or holds a bad value
        ├── Unauthorized     401: no token, or not one of the operator's
        ├── TooMany          429: the token's rate or concurrency is used up
        └── TooLarge         413: the body is larger than the engine takes

A ``Refused`` becomes a JSON error at the HTTP edge (gateway/http/app.py), in
the shape of the API it was sent to; every other error becomes a 500 or 503
whose body says nothing the gateway knows (no subject, no server, no credential).
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of the gateway's exceptions."""


class SettingsError(GatewayError):
    """A setting does not parse or is out of range."""


class EngineUnavailable(GatewayError):
    """The daemons cannot be reached, or none answered in time."""


class StoreError(GatewayError):
    """The submissions bucket could not be read or written."""


class Refused(GatewayError):
    """A client request refused with ``status``; ``message`` is safe to show the client."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotFound(Refused):
    status = 404


class Unprocessable(Refused):
    """422; ``field`` names the field at fault, when one is (Judge0 keys its errors by it)."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(Refused):
    status = 401


class TooMany(Refused):
    status = 429

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TooLarge(Refused):
    status = 413
