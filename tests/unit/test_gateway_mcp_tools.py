"""The MCP tools' results as a model reads them, and the tools' schemas (SDK in-process client)."""

from __future__ import annotations

import base64
import json

from mcp import Client

from gateway.mcp_tools import build_mcp, describe
from gateway.testing.fakes import FakeEngine
from wire import Status
from wire.replies import Reply


def reply(**fields) -> Reply:
    return Reply(**{"id": "x", "language": "python", "success": False, **fields})


def test_a_run_reads_status_first_then_output():
    text = describe(
        reply(
            status=Status.RUNTIME_ERROR,
            output="partial\n",
            error="Traceback...\nKeyError: 1\n",
            exit_code=1,
            execution_time_ms=12.4,
            memory_kb=12800,
        )
    )
    assert text.splitlines()[0] == "status: runtime_error"
    assert "exit code: 1" in text
    assert "--- stdout ---\npartial" in text
    assert "KeyError: 1" in text


def test_a_refusal_says_why():
    text = describe(reply(status=Status.INVALID_REQUEST, error="unknown language 'cobol'"))
    assert text == "status: invalid_request\nerror: unknown language 'cobol'"


def test_compile_errors_show_the_compiler():
    text = describe(reply(status=Status.COMPILE_ERROR, error="main.cpp:1:1: error: x"))
    assert "--- compiler output ---\nmain.cpp:1:1: error: x" in text
    assert "stdout" not in text


async def test_tools_through_the_sdk_client_in_process():
    engine = FakeEngine()
    async with Client(build_mcp(engine)) as client:  # type: ignore[arg-type]
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {"run_code", "list_languages"}
        assert "language" in json.dumps(tools["run_code"].input_schema)
        result = await client.call_tool(
            "run_code",
            {
                "language": "python",
                "code": "print(42)",
                "stdin": "x",
                "files": [{"name": "util.py", "content": "X = 1"}],
            },
        )
        languages = await client.call_tool("list_languages", {})
    assert result.content[0].text.startswith("status: ok")
    _, sent = engine.sent[0]
    assert base64.b64decode(sent["code"]) == b"print(42)"
    assert sent["files"][0]["name"] == "util.py"
    assert languages.content[0].text.startswith("python")
