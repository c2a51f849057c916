"""The MCP server: tools for an AI agent to run code and list languages.

One :class:`mcp.server.mcpserver.MCPServer` (the official SDK) serves both
transports: ``code-engine mcp`` over stdio (gateway/mcp_stdio.py) and the
gateway's streamable HTTP endpoint at ``/mcp`` (stateless, so any gateway
behind a load balancer answers; mounted by gateway/app.py). The tools send
compiler requests over NATS, like every other door; their results are text a
model can read: the status first, then stdout, stderr and the measurements.
"""

from __future__ import annotations

import base64
from typing import Annotated

import msgspec
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from wire import Kind, Status
from wire.decoding import decode
from wire.replies import Reply
from wire.requests import WireFile, WireRequest

from .engine import Engine
from .errors import EngineUnavailable

INSTRUCTIONS = (
    "code-engine runs programs in a sandbox with no network and strict time and memory "
    "limits, and reports how they ended. Call list_languages first if unsure what is served; "
    "then run_code with the complete program. Each run starts from nothing: no files or state "
    "survive between calls, so send everything the program needs (extra source files in "
    "`files`, input in `stdin`)."
)

RUN_DESCRIPTION = """Run a complete program in a sandbox and report how it ended.

Use it to check code by executing it: computing a result, testing a function
with prints or asserts, reproducing an error. The program runs once, in a fresh
sandbox with no network, no access to earlier runs, and time and memory limits.
It must be a whole program (Python or JavaScript scripts run top to bottom; Go
needs `package main` with `func main()`; C++ needs `int main()`), reading its
input from stdin if it needs any. Output is what it prints.

The result starts with `status:`, one of: ok (exit code 0), compile_error
(the compiler's messages follow), runtime_error (non-zero exit or a crash),
timeout, memory_limit, output_limit, invalid_request (the request itself was
wrong: read the error), busy (retry shortly). Then exit code, time, memory,
and stdout and stderr in full (cut at the output limit, which is then said)."""

LANGUAGES_DESCRIPTION = """List the languages the sandbox runs: each name, with the other
names it accepts, and whether it is compiled. Use a name from this list as run_code's
`language`."""


class SourceFile(BaseModel):
    name: Annotated[str, Field(description="relative path, e.g. util.py or lib/helpers.h")]
    content: Annotated[str, Field(description="the file's text")]


_reply = msgspec.json.Decoder(Reply)
_encoder = msgspec.json.Encoder()


def build_mcp(engine: Engine) -> MCPServer:
    """The MCP server, its tools sending their requests through ``engine``."""
    server: MCPServer = MCPServer(
        name="code-engine", instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @server.tool(name="run_code", description=RUN_DESCRIPTION)
    async def run_code(
        language: Annotated[
            str, Field(description="a language name from list_languages, e.g. python, cpp")
        ],
        code: Annotated[str, Field(description="the whole program's source text (the main file)")],
        stdin: Annotated[str, Field(description="text fed to the program's standard input")] = "",
        args: Annotated[list[str], Field(description="command-line arguments")] = [],  # noqa: B006
        files: Annotated[
            list[SourceFile], Field(description="extra source files beside the main file")
        ] = [],  # noqa: B006
        timeout_ms: Annotated[
            int | None, Field(description="wall-clock limit in ms; default and most: 10000")
        ] = None,
        memory_mb: Annotated[
            int | None, Field(description="memory limit in MB; default and most: the server's")
        ] = None,
    ) -> str:
        wire = WireRequest(
            language=language,
            code=_b64(code),
            stdin=_b64(stdin) if stdin else None,
            args=list(args) or None,
            timeout_ms=timeout_ms,
            memory_mb=memory_mb,
            files=[WireFile(name=f.name, content=_b64(f.content)) for f in files] or None,
        )
        try:
            data = await engine.request(Kind.COMPILER, _encoder.encode(wire))
            reply = decode(_reply, data)
        except EngineUnavailable as exc:
            return f"status: busy\nerror: {exc}; retry shortly"
        except msgspec.DecodeError:
            return "status: internal_error\nerror: the engine's reply could not be read"
        return describe(reply)

    @server.tool(name="list_languages", description=LANGUAGES_DESCRIPTION)
    async def list_languages() -> str:
        try:
            languages = await engine.languages()
        except EngineUnavailable as exc:
            return f"error: {exc}; retry shortly"
        lines = []
        for info in languages:
            others = [a for a in info.aliases if a != info.name]
            kind = "compiled" if info.compiled else "interpreted"
            version = f" {info.version}" if info.version else ""
            also = f" (also: {', '.join(others)})" if others else ""
            lines.append(f"{info.name}{version}: {kind}, main file {info.main_file}{also}")
        return "\n".join(lines)

    return server


def describe(reply: Reply) -> str:
    """A reply as text for a model: status first, then what it needs to judge the run."""
    lines = [f"status: {reply.status.value}"]
    if reply.status in (Status.INVALID_REQUEST, Status.BUSY, Status.INTERNAL_ERROR):
        lines.append(f"error: {reply.error}")
        return "\n".join(lines)
    if reply.exit_code is not None:
        lines.append(f"exit code: {reply.exit_code}")
    if reply.signal:
        lines.append(f"signal: {reply.signal}")
    if reply.compile_time_ms is not None:
        lines.append(f"compile time: {reply.compile_time_ms:.0f} ms")
    if reply.execution_time_ms is not None:
        lines.append(f"time: {reply.execution_time_ms:.0f} ms")
    if reply.memory_kb is not None:
        lines.append(f"memory: {reply.memory_kb / 1024:.1f} MB")
    if reply.truncated:
        lines.append("note: output was cut at the output limit")
    if reply.status is Status.COMPILE_ERROR:
        lines += ["--- compiler output ---", reply.error.rstrip("\n")]
        return "\n".join(lines)
    lines += ["--- stdout ---", reply.output.rstrip("\n") or "(empty)"]
    lines += ["--- stderr ---", reply.error.rstrip("\n") or "(empty)"]
    return "\n".join(lines)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
