"""The gateway's commands: ``code-engine gateway`` and ``code-engine mcp`` (service/cli.py)."""

from __future__ import annotations

import sys

import trio

from service.operations.logs import configure

from .errors import GatewayError
from .settings import GatewaySettings


def run_gateway(nats_url: str | None, addr: str | None) -> int:

    try:
        settings = GatewaySettings.from_env(addr=addr)
        configure(production=True, level=settings.log_level)
        trio.run(_serve, settings, nats_url)
    except GatewayError as exc:
        print(f"code-engine gateway: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(settings: GatewaySettings, nats_url: str | None) -> None:
    from .server import serve

    try:
        await serve(settings, nats_url=nats_url)
    except BaseExceptionGroup as group:
        found = group.subgroup(GatewayError)
        if found is not None:
            raise _first(found) from None
        raise


def _first(group: BaseExceptionGroup) -> BaseException:
    error = group.exceptions[0]
    return _first(error) if isinstance(error, BaseExceptionGroup) else error


def run_mcp_stdio(nats_url: str | None) -> int:
    from .mcp_stdio import serve_stdio

    try:
        settings = GatewaySettings.from_env()
        # stdout is the protocol's: logs go to stderr only, and only warnings.
        configure(production=True, level="WARNING")
        trio.run(serve_stdio, settings, nats_url)
    except GatewayError as exc:
        print(f"code-engine mcp: {exc}", file=sys.stderr)
        return 1
    return 0
