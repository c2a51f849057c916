"""Hostile requests, not programs: bytes shaped to break the daemon's reading of them.

Each goes through the real nats-server and daemon and must get exactly the reply
the protocol promises (``invalid_request``) without a container being involved;
afterwards the daemon still answers, and its log holds no handler failure.
"""

from __future__ import annotations

import base64

import pytest

from service.testing.harness import Daemon, nats_request
from wire import Kind
from wire.subjects import admin_subject, subject_for

pytestmark = pytest.mark.hostile

DEPTH = 100_000  # about a hundred times the interpreter's recursion limit
ARRAYS = "[" * DEPTH + "]" * DEPTH
OBJECTS = '{"a":' * DEPTH + "1" + "}" * DEPTH
CODE = base64.b64encode(b"print(1)").decode()
FIELDS = f'"language":"python","code":"{CODE}"'

NESTED = {
    "arrays at the top": ARRAYS,
    "objects at the top": OBJECTS,
    "arrays as code": '{"language":"python","code":' + ARRAYS + "}",
    "objects in an unknown field": "{" + FIELDS + ',"x":' + OBJECTS + "}",
    "arrays in a test": "{" + FIELDS + ',"tests":[{"stdin":' + ARRAYS + "}]}",
    "objects as a checker's file": "{"
    + FIELDS
    + ',"tests":[{}],"checker":{"language":"python","code":"eA==","files":['
    + OBJECTS
    + "]}}",
}


def ask(daemon: Daemon, kind: Kind, payload: str) -> dict:
    return nats_request(daemon.nats_url, subject_for(kind), payload.encode(), timeout=30)


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("where", list(NESTED))
def test_a_deeply_nested_request_is_refused(hostile_daemon: Daemon, kind: Kind, where: str):
    reply = ask(hostile_daemon, kind, NESTED[where])
    assert reply["status"] == "invalid_request", reply
    assert reply["error"], reply
    assert ("total" in reply) is (kind is Kind.PROBLEMS)  # the subject's reply shape


@pytest.mark.parametrize("digits", [129, 4301, 50_000])
def test_an_integer_id_past_the_limit_is_refused_and_not_echoed(
    hostile_daemon: Daemon, digits: int
):
    reply = ask(hostile_daemon, Kind.COMPILER, "{" + FIELDS + ',"id":' + "9" * digits + "}")
    assert reply["status"] == "invalid_request", reply
    assert len(reply["id"]) <= 128


def test_a_deeply_nested_admin_request_is_answered(hostile_daemon: Daemon):
    payload = '{"action":"pause","x":' + ARRAYS + "}"
    reply = nats_request(
        hostile_daemon.nats_url, admin_subject(hostile_daemon.instance_id), payload.encode()
    )
    assert reply == {
        "ok": False,
        "state": "running",
        "error": "bad admin request: JSON is nested too deeply",
    }


def test_the_daemon_still_runs_jobs_after_them(hostile_daemon: Daemon):
    for kind in Kind:
        assert ask(hostile_daemon, kind, OBJECTS)["status"] == "invalid_request"
    reply = ask(hostile_daemon, Kind.COMPILER, "{" + FIELDS + "}")
    assert reply["status"] == "ok" and reply["output"] == "1\n", reply
    log = hostile_daemon.log_text()
    assert "handler failed" not in log and "RecursionError" not in log
