"""The NATS service API as this instance answers it: subjects, PING, INFO, STATS."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
import pytest

from service.operations.discovery import Discovery, EndpointStats
from wire import Kind, Status
from wire.subjects import COMPILER_SUBJECT, PROBLEMS_SUBJECT, QUEUE_GROUP, SERVICE_NAME

STARTED = datetime.datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=datetime.UTC)


def discovery() -> Discovery:
    return Discovery(
        "unit-1",
        "9.9.9",
        {
            Kind.COMPILER: EndpointStats("compiler", COMPILER_SUBJECT, QUEUE_GROUP),
            Kind.PROBLEMS: EndpointStats("problems", PROBLEMS_SUBJECT, QUEUE_GROUP),
        },
        started=STARTED,
    )


def answer(d: Discovery, subject: str) -> dict[str, Any]:
    reply: dict[str, Any] = msgspec.json.decode(d.handler_for(subject)(b""))
    return reply


def test_the_subjects_address_all_services_this_one_and_this_instance() -> None:
    subjects = discovery().subjects()
    assert len(subjects) == len(set(subjects)) == 9
    for verb in ("PING", "INFO", "STATS"):
        assert f"$SRV.{verb}" in subjects
        assert f"$SRV.{verb}.{SERVICE_NAME}" in subjects
        assert f"$SRV.{verb}.{SERVICE_NAME}.unit-1" in subjects


def test_every_subject_has_the_handler_of_its_verb() -> None:
    d = discovery()
    for subject in d.subjects():
        verb = subject.split(".")[1].lower()
        assert answer(d, subject)["type"] == f"io.nats.micro.v1.{verb}_response"


@pytest.mark.parametrize("subject", ["code-engine.admin.unit-1", "$SRV", "$SRV.EXPLODE"])
def test_a_subject_outside_the_api_has_no_handler(subject: str) -> None:
    with pytest.raises(ValueError, match="not a service API subject"):
        discovery().handler_for(subject)


def test_ping() -> None:
    assert answer(discovery(), "$SRV.PING") == {
        "type": "io.nats.micro.v1.ping_response",
        "name": SERVICE_NAME,
        "id": "unit-1",
        "version": "9.9.9",
        "metadata": {},
    }


def test_info_lists_the_endpoints() -> None:
    info = answer(discovery(), f"$SRV.INFO.{SERVICE_NAME}")
    assert (info["type"], info["name"], info["id"]) == (
        "io.nats.micro.v1.info_response",
        SERVICE_NAME,
        "unit-1",
    )
    assert info["description"]
    assert info["endpoints"] == [
        {
            "name": "compiler",
            "subject": COMPILER_SUBJECT,
            "queue_group": QUEUE_GROUP,
            "metadata": {},
        },
        {
            "name": "problems",
            "subject": PROBLEMS_SUBJECT,
            "queue_group": QUEUE_GROUP,
            "metadata": {},
        },
    ]


def test_stats_before_any_request() -> None:
    stats = answer(discovery(), f"$SRV.STATS.{SERVICE_NAME}.unit-1")
    assert stats["type"] == "io.nats.micro.v1.stats_response"
    assert stats["started"] == "2026-03-01T12:30:45.123Z"
    compiler = stats["endpoints"][0]
    assert compiler == {
        "name": "compiler",
        "subject": COMPILER_SUBJECT,
        "queue_group": QUEUE_GROUP,
        "metadata": {},
        "num_requests": 0,
        "num_errors": 0,
        "last_error": "",
        "processing_time": 0,
        "average_processing_time": 0,
        "data": None,
    }


def test_stats_count_requests_and_errors_per_endpoint() -> None:
    d = discovery()
    compiler = d.endpoints[Kind.COMPILER]
    compiler.record(str(Status.OK), 0.010)
    compiler.record(str(Status.RUNTIME_ERROR), 0.020, "exit 1")  # the program's fault
    compiler.record(str(Status.INVALID_REQUEST), 0.001, "unknown language 'cobol'")
    compiler.record(Status.BUSY, 0.003, "the engine is at capacity")
    d.endpoints[Kind.PROBLEMS].record(str(Status.WRONG_ANSWER), 0.5)
    by_name = {e["name"]: e for e in answer(d, "$SRV.STATS")["endpoints"]}
    assert by_name["compiler"]["num_requests"] == 4
    assert by_name["compiler"]["num_errors"] == 2
    assert by_name["compiler"]["last_error"] == "busy: the engine is at capacity"
    assert by_name["compiler"]["processing_time"] == 34_000_000
    assert by_name["compiler"]["average_processing_time"] == 8_500_000
    assert (by_name["problems"]["num_requests"], by_name["problems"]["num_errors"]) == (1, 0)
    assert by_name["problems"]["processing_time"] == 500_000_000


@pytest.mark.parametrize("status", [Status.INVALID_REQUEST, Status.BUSY, Status.INTERNAL_ERROR])
def test_refusals_are_the_errors(status: Status) -> None:
    endpoint = EndpointStats("compiler", COMPILER_SUBJECT, QUEUE_GROUP)
    endpoint.record(str(status), 0.0, "x" * 500)
    assert endpoint.errors == 1
    assert endpoint.last_error.startswith(f"{status}: x") and len(endpoint.last_error) == 200


@pytest.mark.parametrize(
    "status", sorted(set(Status) - {Status.INVALID_REQUEST, Status.BUSY, Status.INTERNAL_ERROR})
)
def test_verdicts_are_not_errors(status: Status) -> None:
    endpoint = EndpointStats("compiler", COMPILER_SUBJECT, QUEUE_GROUP)
    endpoint.record(str(status), 0.0, "what the program printed")
    assert (endpoint.requests, endpoint.errors, endpoint.last_error) == (1, 0, "")
