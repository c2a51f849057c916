"""The judge end to end: request fields, multi-file programs, CPU time, comparisons,
scoring, checkers and interactors, through the real daemon and a real nats-server."""

from __future__ import annotations

import asyncio
import base64
import json

import nats
import pytest
from conftest import run_code, send

from engine_client import build_request

PROBLEMS = "problems.execute.request"
COMPILER = "compiler.execute.request"


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def case(stdin: str, expected: str | None = None, **fields: object) -> dict:
    test: dict[str, object] = {"stdin": b64(stdin), **fields}
    if expected is not None:
        test["expected_output"] = b64(expected)
    return test


def problem(daemon, language: str, code: str, tests: list[dict], **fields) -> dict:
    return send(
        daemon.nats_url,
        build_request(language, code, tests=tests, **fields),
        subject=PROBLEMS,
        timeout=300,
    )


@pytest.mark.parametrize("subject", [COMPILER, PROBLEMS])
def test_unknown_fields_are_refused_by_name(daemon, subject):
    reply = run_code(daemon.nats_url, "python", "print(1)", subject=subject, chekcer={})
    assert reply["status"] == "invalid_request"
    assert reply["error"] == "invalid request: unknown field 'chekcer'"


def test_problem_fields_on_the_compiler_subject_are_refused(daemon):
    reply = run_code(daemon.nats_url, "python", "print(1)", tests=[case("", "1")])
    assert reply["status"] == "invalid_request"
    assert "unknown field 'tests'" in reply["error"]


def test_info_advertises_the_protocol_version(daemon):
    async def info() -> dict:
        nc = await nats.connect(daemon.nats_url)
        try:
            msg = await nc.request(f"$SRV.INFO.code-engine.{daemon.instance_id}", b"", timeout=10)
        finally:
            await nc.close()
        return json.loads(msg.data)

    assert asyncio.run(info())["metadata"]["protocol"] == "2"
