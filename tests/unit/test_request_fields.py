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


def files_payload(language: str, *names: str, content: str = "x", **fields: object) -> bytes:
    listed = [{"name": name, "content": b64(content)} for name in names]
    return payload(language=language, files=listed, **fields)


@pytest.mark.parametrize("kind", list(Kind))
def test_files_are_decoded_beside_the_main_file(kind):
    data = files_payload("python", "util.py", "pkg/__init__.py", "a/b/c/d.txt")
    request = parse_request(data, kind, LIMITS[kind])
    assert [(f.name, f.content) for f in request.files] == [
        ("util.py", b"x"),
        ("pkg/__init__.py", b"x"),
        ("a/b/c/d.txt", b"x"),
    ]
    assert list(request.source_files()) == ["main.py", "util.py", "pkg/__init__.py", "a/b/c/d.txt"]


def test_file_content_may_be_any_bytes():
    raw = bytes(range(256))
    data = payload(files=[{"name": "blob.bin", "content": b64(raw)}])
    assert parse_request(data, Kind.PROBLEMS, LIMITS[Kind.PROBLEMS]).files[0].content == raw


@pytest.mark.parametrize(
    ("language", "names", "expected"),
    [
        ("python", ["a/b/c/d/e.py"], "files[0]: 'a/b/c/d/e.py' has more than 4 path segments"),
        ("python", [".hidden"], "files[0]: '.hidden': each path segment must be of [A-Za-z0-9._-]"),
        ("python", ["-rf"], "and not start with '.' or '-'"),
        ("python", ["a/../b"], "files[0]: 'a/../b': each path segment"),
        ("python", ["a//b"], "each path segment"),
        ("python", ["/etc/passwd"], "each path segment"),
        ("python", ["sp ace.py"], "each path segment"),
        ("python", ["ok.py", "ok.py"], "files[1]: 'ok.py' appears twice"),
        ("python", ["main.py"], "files[0]: 'main.py' clashes with the main file main.py"),
        ("javascript", ["main.js/x.js"], "clashes with the main file main.js"),
        ("cpp", ["main"], "clashes with the build output 'main'"),
        ("go", ["go.mod"], "files[0]: 'go.mod': go.mod is refused"),
        ("go", ["sub/go.mod"], "go.mod is refused"),
        ("go", ["sub/x.go"], "Go files must be beside main.go"),
        ("python", ["a", "a/b.py"], "files: 'a/b.py' needs 'a' to be a directory"),
        ("python", [""], "files[0]: a name must be 1 to 255 characters"),
    ],
)
def test_bad_files_say_which_file_and_why(language, names, expected):
    assert expected in reason(files_payload(language, *names))


def test_at_most_32_files():
    names = [f"f{i}.py" for i in range(33)]
    assert "files holds 33 files, more than 32" in reason(files_payload("python", *names))


def test_code_and_files_count_toward_the_code_limit_together():
    limit = LIMITS[Kind.COMPILER].max_code_bytes
    half = "#" * (limit // 2)
    ok = files_payload("python", "a.py", content=half, code=b64("print(1)"))
    assert parse_request(ok, Kind.COMPILER, LIMITS[Kind.COMPILER]).files
    over = files_payload("python", "a.py", "b.py", content=half, code=b64("print(1)"))
    assert reason(over, Kind.COMPILER) == (
        f"files[1] (b.py): the code and files together are larger than the limit of {limit} bytes"
    )


def test_a_file_that_is_not_base64_is_named():
    data = payload(files=[{"name": "u.py", "content": "***"}])
    assert reason(data) == "files[0] (u.py) is not valid base64"


def test_an_unknown_field_of_a_file_is_refused():
    data = payload(files=[{"name": "u.py", "content": "", "mode": 7}])
    assert reason(data) == "invalid request: unknown field 'mode' (at 'files[0]')"


def test_compile_commands_take_every_source_of_the_language():
    from service.languages import lookup
    from service.sandbox.job_messages import compile_step

    names = ("util.go", "util_test.go", "notes.txt")
    go = compile_step(lookup("go"), SETTINGS, names)
    assert go is not None and go.argv[-2:] == ["/work/build/main.go", "/work/build/util.go"]
    names = ("lib/a.cpp", "b.cc", "c.cxx", "lib/a.h", "d.c")
    cpp = compile_step(lookup("cpp"), SETTINGS, names)
    assert cpp is not None
    assert cpp.argv[cpp.argv.index("-I") + 1] == "/work/build"
    assert cpp.argv[-4:] == [
        "/work/build/main.cpp",
        "/work/build/lib/a.cpp",
        "/work/build/b.cc",
        "/work/build/c.cxx",
    ]
    assert compile_step(lookup("python"), SETTINGS, ("x.py",)) is None
