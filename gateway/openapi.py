"""The native API's OpenAPI 3.1 document, generated from the wire types (msgspec JSON Schema).

Served at ``/openapi.json``; schemathesis checks the running gateway against it
in ``make test`` (tests/integration/test_gateway_schema.py).
"""

from __future__ import annotations

from typing import Any

import msgspec

from wire.languages import LanguagesReply
from wire.replies import ProblemReply, Reply
from wire.requests import PROTOCOL_VERSION, WireProblemRequest, WireRequest


class ErrorBody(msgspec.Struct):
    """A request the gateway refused before it reached the engine (401, 413, 429, 503)."""

    error: str


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refusals(reply: dict[str, Any]) -> dict[str, Any]:
    error = _json(_ref("ErrorBody"), "refused by the gateway")
    return {
        "401": _json(_ref("ErrorBody"), "no API token, or not a valid one"),
        "413": _json(_ref("ErrorBody"), "the body is larger than the engine takes"),
        "422": _json(_ref("Reply"), "the request breaks the protocol (status invalid_request)"),
        "429": _json(_ref("ErrorBody"), "the token's rate or concurrency is used up"),
        "500": _json(reply, "the engine failed (status internal_error)"),
        "503": _json(
            {"oneOf": [reply, _ref("ErrorBody")]},
            "the engine is full (status busy) or cannot be reached: retry later",
        ),
        "default": error,
    }


def document(server_url: str = "/", *, auth: bool = True) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document; ``auth``: tokens are required (the gateway's setting)."""
    _, components = msgspec.json.schema_components(
        [WireRequest, WireProblemRequest, Reply, ProblemReply, LanguagesReply, ErrorBody],
        ref_template="#/components/schemas/{name}",
    )
    any_reply = {"oneOf": [_ref("Reply"), _ref("ProblemReply")]}
    security: list[dict[str, list[str]]] = [{"bearer": []}] if auth else []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "code-engine native HTTP API",
            "version": str(PROTOCOL_VERSION),
            "description": "The NATS protocol of code-engine over HTTP, one to one: a body is "
            "what the subject takes, the reply is what the daemon answers. `code`, `stdin` "
            "and test data are base64. A program that failed is still a 200: its `status` "
            "says how it ended.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": security,
        "paths": {
            "/v1/run": {
                "post": {
                    "operationId": "run",
                    "summary": "Run a program (compiler.execute.request)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("WireRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("Reply"), "the program ran; status says how it ended"),
                        **_refusals(_ref("Reply")),
                    },
                }
            },
            "/v1/problems": {
                "post": {
                    "operationId": "problems",
                    "summary": "Judge a submission against test cases (problems.execute.request)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("WireProblemRequest")}},
                    },
                    "responses": {
                        "200": _json(any_reply, "judged (a compiler reply when no tests)"),
                        **_refusals(any_reply),
                    },
                }
            },
            "/v1/languages": {
                "get": {
                    "operationId": "languages",
                    "summary": "The languages the daemons serve (code-engine.languages)",
                    "responses": {
                        "200": _json(_ref("LanguagesReply"), "the languages"),
                        "401": _json(_ref("ErrorBody"), "no API token, or not a valid one"),
                        "503": _json(_ref("ErrorBody"), "no daemon answered"),
                    },
                }
            },
        },
    }
