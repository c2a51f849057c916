"""Request fields: unknown ones refused by name, and the judge's additions validated."""

import base64
import json

import pytest

from service.config import Settings
from service.errors import InvalidRequest
from service.operations.discovery import Discovery
from service.requests import limits_for, parse_request
from wire import Kind
from wire.requests import PROTOCOL_VERSION

SETTINGS = Settings.from_env({})
LIMITS = {kind: limits_for(kind, SETTINGS) for kind in Kind}


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def payload(**fields: object) -> bytes:
    body: dict[str, object] = {"language": "python", "code": b64("print(1)")}
    body.update(fields)
    return json.dumps(body).encode()


def reason(data: bytes, kind: Kind = Kind.PROBLEMS) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse_request(data, kind, LIMITS[kind])
    return str(info.value)


@pytest.mark.parametrize("kind", list(Kind))
def test_an_unknown_top_level_field_is_refused_by_name(kind):
    assert reason(payload(checkr={"language": "cpp"}), kind) == (
        "invalid request: unknown field 'checkr'"
    )


def test_an_unknown_field_of_a_test_names_the_test():
    tests = [{"stdin": b64("1")}, {"stdin": b64("2"), "expected": b64("2")}]
    assert (
        reason(payload(tests=tests)) == "invalid request: unknown field 'expected' (at 'tests[1]')"
    )


@pytest.mark.parametrize("field", ["tests", "compare", "stop_on_first_failure"])
def test_problem_fields_on_the_compiler_subject_are_refused(field):
    value = {"tests": [], "compare": "trim", "stop_on_first_failure": True}[field]
    assert reason(payload(**{field: value}), Kind.COMPILER) == (
        f"invalid request: unknown field {field!r} (accepted on problems requests only)"
    )


def test_a_long_unknown_field_name_is_cut_in_the_reason():
    assert len(reason(payload(**{"x" * 5000: 1}))) < 100


def test_known_fields_still_pass_on_both_subjects():
    for kind in Kind:
        assert (
            parse_request(payload(id="a", args=["x"], timeout_ms=5), kind, LIMITS[kind]).id == "a"
        )


def test_info_advertises_the_protocol_version():
    discovery = Discovery(instance_id="i", version="0", endpoints={})
    info = json.loads(discovery.info())
    assert info["metadata"] == {"protocol": str(PROTOCOL_VERSION)}
