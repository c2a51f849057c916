"""Routes by method and path template (``/submissions/{token}``), each tagged with its API.

The tag decides how a refusal is written (Judge0 says ``{"error": ...}``,
Piston ``{"message": ...}``) and which calls count toward the rate limits.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import NotFound, Refused
from .messages import Request, Response

Handler = Callable[[Request], Awaitable[Response]]


class Api(enum.StrEnum):
    NATIVE = "native"
    JUDGE0 = "judge0"
    PISTON = "piston"
    MCP = "mcp"  # the MCP SDK's streamable HTTP app, mounted at /mcp
    OPS = "ops"  # health, readiness, metrics, the OpenAPI document: no token needed


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    handler: Handler
    api: Api
    pattern: re.Pattern[str]


class MethodNotAllowed(Refused):
    """405; ``allowed`` goes in the ``Allow`` header, as RFC 9110 asks."""

    status = 405

    def __init__(self, message: str, *, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, api: Api) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.routes.append(Route(method, template, handler, api, re.compile(f"^{regex}$")))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` and ``path`` and its path parameters.

        Raises:
            NotFound: no route has this path; MethodNotAllowed: none with this method.
        """
        allowed = []
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, found.groupdict()
            allowed.append(route.method)
        if allowed:
            if "GET" in allowed:
                allowed.append("HEAD")
            raise MethodNotAllowed(
                f"{method} is not allowed here; use {', '.join(allowed)}", allowed=allowed
            )
        raise NotFound(f"no such endpoint: {path}")

    def api_of(self, path: str) -> Api:
        """Which API a path belongs to, even when no route matches (for the error's shape)."""
        for route in self.routes:
            if route.pattern.match(path):
                return route.api
        if path.startswith("/api/v2/"):
            return Api.PISTON
        if path.startswith("/v1/"):
            return Api.NATIVE
        return Api.JUDGE0
