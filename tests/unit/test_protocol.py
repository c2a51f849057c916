"""Protocol v1 validation: every bad input gets a precise reason, good input is normalized."""

import base64
import json

import pytest

from service.config import Settings
from service.errors import InvalidRequest
from service.requests import limits_for, parse_request, salvage_id
from service.sandbox.job_messages import one_shot_job
from wire import Kind, Status
from wire.replies import Reply
from wire.replies import encode as encode_reply

SETTINGS = Settings.from_env({})
LIMITS = limits_for(Kind.COMPILER, SETTINGS)
PROBLEM_LIMITS = limits_for(Kind.PROBLEMS, SETTINGS)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def req(**fields) -> bytes:
    body = {"language": "python", "code": b64("print(1)")}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def reason(payload: bytes, limits=LIMITS) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse_request(payload, Kind.COMPILER, limits)
    return str(info.value)


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("python", "python"),
        ("PY", "python"),
        ("javascript", "javascript"),
        ("js", "javascript"),
        ("Node", "javascript"),
        ("go", "go"),
        ("golang", "go"),
        ("cpp", "cpp"),
        ("C++", "cpp"),
    ],
)
def test_language_aliases_are_case_insensitive(alias, name):
    assert parse_request(req(language=alias), Kind.COMPILER, LIMITS).language.name == name


def test_valid_request_is_decoded_and_defaults_filled():
    request = parse_request(
        req(stdin=b64("in"), args=["a", "b"], id="job-1"), Kind.COMPILER, LIMITS
    )
    assert request.code == b"print(1)"
    assert request.stdin == b"in"
    assert request.args == ("a", "b")
    assert request.id == "job-1"
    assert request.limits.timeout_ms == SETTINGS.timeout_ms
    assert request.limits.memory_mb == SETTINGS.memory_mb


def test_missing_id_is_generated_and_numeric_id_kept_as_text():
    assert len(parse_request(req(), Kind.COMPILER, LIMITS).id) == 32
    assert parse_request(req(id=42), Kind.COMPILER, LIMITS).id == "42"


def test_limits_are_clamped_to_server_maxima():
    request = parse_request(req(timeout_ms=10**9, memory_mb=10**6), Kind.COMPILER, LIMITS)
    assert request.limits.timeout_ms == SETTINGS.timeout_ms
    assert request.limits.memory_mb == SETTINGS.memory_mb
    small = parse_request(req(timeout_ms=500, memory_mb=64), Kind.COMPILER, LIMITS)
    assert (small.limits.timeout_ms, small.limits.memory_mb) == (500, 64)


def test_the_compile_time_limit_is_the_requests_within_the_servers():
    assert parse_request(req(), Kind.COMPILER, LIMITS).limits.compile_timeout_ms == (
        SETTINGS.compile_timeout_ms
    )
    huge = parse_request(req(compile_timeout_ms=10**9), Kind.COMPILER, LIMITS)
    assert huge.limits.compile_timeout_ms == SETTINGS.compile_timeout_ms
    request = parse_request(req(language="cpp", compile_timeout_ms=700), Kind.COMPILER, LIMITS)
    job = one_shot_job(request, SETTINGS)
    assert job.compile is not None and job.compile.limits.wall_ms == 700
    with pytest.raises(InvalidRequest, match="compile_timeout_ms must be at least 1"):
        parse_request(req(compile_timeout_ms=0), Kind.COMPILER, LIMITS)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (json.dumps({"code": b64("x")}).encode(), "missing required field 'language'"),
        (json.dumps({"language": "python"}).encode(), "missing required field 'code'"),
        (req(language=3), "Expected 'str', got 'int' (at 'language')"),
        (req(code="!!not base64!!"), "code is not valid base64"),
        (req(stdin="***"), "stdin is not valid base64"),
        (req(language="cobol"), "unknown language 'cobol'"),
        (req(code=b64("print(1)\x00")), "code contains NUL bytes"),
        (req(code=b64("   ")), "code is empty"),
        (req(args="not a list"), "Expected 'array"),
        (req(args=[1]), "(at 'args[0]')"),
        (req(args=["a\x00b"]), "args[0] contains a NUL byte"),
        (req(timeout_ms="10"), "(at 'timeout_ms')"),
        (req(timeout_ms=0), "timeout_ms must be at least 1"),
        (req(memory_mb=1), "memory_mb must be at least 32 for python, got 1"),
        (req(id="x" * 200), "id is longer than 128"),
    ],
)
def test_bad_requests_say_what_is_wrong(payload, expected):
    assert expected in reason(payload)


def test_oversized_code_and_stdin_are_refused_with_the_limit():
    big = b64("#" * (LIMITS.max_code_bytes + 1))
    assert str(LIMITS.max_code_bytes) in reason(req(code=big))
    big_stdin = b64("x" * (LIMITS.max_stdin_bytes + 1))
    assert str(LIMITS.max_stdin_bytes) in reason(req(stdin=big_stdin))


def test_problems_subject_allows_larger_inputs():
    code = b64("#" * (LIMITS.max_code_bytes + 1))
    assert "larger than" in reason(req(code=code))
    request = parse_request(req(code=code), Kind.PROBLEMS, PROBLEM_LIMITS)
    assert request.kind is Kind.PROBLEMS
    assert request.limits.output_limit == SETTINGS.problems_output_limit


def test_salvage_id_for_error_replies():
    assert salvage_id(b'{"id": "abc", "language": 1}') == "abc"
    assert len(salvage_id(b"garbage")) == 32


def test_reply_encodes_every_field():
    reply = Reply(id="1", language="python", success=True, status=Status.OK, output="1\n")
    decoded = json.loads(encode_reply(reply))
    assert decoded == {
        "id": "1",
        "language": "python",
        "success": True,
        "status": "ok",
        "output": "1\n",
        "error": "",
        "exit_code": None,
        "signal": None,
        "execution_time_ms": None,
        "compile_time_ms": None,
        "memory_kb": None,
        "truncated": False,
        "cpu_time_ms": None,
    }


def test_the_memory_minimum_is_the_languages_on_the_daemons_tier() -> None:
    node = json.dumps({"language": "js", "code": "Y29uc29sZS5sb2coMSk=", "memory_mb": 48})
    with pytest.raises(InvalidRequest, match="at least 64 for javascript, got 48"):
        parse_request(node.encode(), Kind.COMPILER, LIMITS)
    gvisor = limits_for(Kind.COMPILER, Settings.from_env({"CODE_ENGINE_RUNTIME": "runsc"}))
    with pytest.raises(InvalidRequest, match="at least 128 for javascript under gVisor"):
        parse_request(node.replace("48", "100").encode(), Kind.COMPILER, gvisor)
    checked = {
        "language": "python",
        "code": "cHJpbnQoMSk=",
        "memory_mb": 40,
        "tests": [{"stdin": ""}],
        "checker": {"language": "js", "code": "MQ=="},
    }
    with pytest.raises(InvalidRequest, match="at least 64 for python/javascript"):
        parse_request(json.dumps(checked).encode(), Kind.PROBLEMS, PROBLEM_LIMITS)
