"""The MCP server driven by the mcp SDK's own client: over stdio (code-engine mcp) and over
the gateway's streamable HTTP endpoint, with a real daemon behind both."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from gateway.testing.process import GatewayProcess
from service.testing.harness import ROOT, Daemon
from service.testing.nats_servers import NatsServer

pytestmark = pytest.mark.integration
TOKEN = "mcp-token"


@pytest.fixture(scope="module")
def mcp_gateway(
    nats_server: NatsServer, daemon: Daemon, tmp_session: Path
) -> Iterator[GatewayProcess]:
    env = {"CODE_ENGINE_GATEWAY_TOKENS": TOKEN}
    with GatewayProcess(nats_server.url, tmp_session / "gateway-mcp.log", env) as process:
        yield process


async def exercise(client: Client) -> None:
    tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == {"run_code", "list_languages"}
    languages = await client.call_tool("list_languages", {})
    assert "python" in languages.content[0].text
    ok = await client.call_tool(
        "run_code",
        {
            "language": "python",
            "code": "import util\nprint(util.X * int(input()))",
            "stdin": "7",
            "files": [{"name": "util.py", "content": "X = 6\n"}],
        },
    )
    text = ok.content[0].text
    assert text.startswith("status: ok"), text
    assert "--- stdout ---\n42" in text
    failed = await client.call_tool("run_code", {"language": "cpp", "code": "int main( {"})
    assert failed.content[0].text.startswith("status: compile_error")


async def test_mcp_over_http(mcp_gateway):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(f"{mcp_gateway.url}/mcp", http_client=http)
        async with Client(transport) as client:  # type: ignore[arg-type]
            await exercise(client)


async def test_mcp_over_http_needs_the_token(mcp_gateway):
    async with httpx2.AsyncClient() as http:
        response = await http.post(f"{mcp_gateway.url}/mcp", json={})
    assert response.status_code == 401


async def test_mcp_over_stdio(nats_server: NatsServer, daemon: Daemon):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "service", "mcp"],
        env={**os.environ, "NATSURL": nats_server.url},
        cwd=str(ROOT),
    )
    async with Client(params) as client:
        await exercise(client)
