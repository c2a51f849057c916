"""A request as the routes see it, and the response they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from wire.decoding import decode

from ..errors import Refused

JSON = "application/json"
_any = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # from the path template
    token: str = ""  # the caller's API token, once authenticated ("" when auth is off)

    @classmethod
    def from_scope(cls, scope: dict[str, Any], body: bytes = b"") -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        return cls(scope["method"], scope["path"], query, headers, body)

    def json(self) -> Any:
        """The body as JSON (an empty body is an empty object).

        Raises:
            Refused: not JSON (400).
        """
        if not self.body.strip():
            return {}
        try:
            return decode(_any, self.body)
        except msgspec.DecodeError as exc:
            raise Refused(f"the body is not JSON: {exc}") from None

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (true/false, 1/0)."""
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise Refused(f"query parameter {name} must be true or false, not {raw!r}", status=400)


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, _encoder.encode(value), JSON, dict(headers or {}))
