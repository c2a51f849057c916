"""The Piston translation: requests to the wire, replies to Piston's stages."""

from __future__ import annotations

import base64

import msgspec
import pytest

from gateway.errors import Refused
from gateway.piston import PistonRequest, find_runtime, to_piston, to_wire
from gateway.testing.fakes import language
from wire import Status
from wire.replies import Reply

PYTHON = language("python", ["python", "py"], "main.py")
GO = language("go", ["go"], "main.go", compiled=True, version="1.23.4")


def request(**fields) -> PistonRequest:
    return msgspec.convert(
        {"language": "py", "files": [{"content": "print(1)"}], **fields}, PistonRequest
    )


def test_runtime_by_alias_and_version():
    assert find_runtime("py", "*", [PYTHON]) is PYTHON
    assert find_runtime("python", "3.10.0", [PYTHON]) is PYTHON  # no version known: any
    assert find_runtime("go", "1.23", [GO]) is GO
    assert find_runtime("go", "1.23.4", [GO]) is GO
    with pytest.raises(Refused, match=r"go-1\.19 runtime is unknown"):
        find_runtime("go", "1.19", [GO])
    with pytest.raises(Refused, match="runtime is unknown"):
        find_runtime("cobol", "*", [PYTHON, GO])


def test_files_limits_and_encodings():
    wire = to_wire(
        request(
            files=[
                {"name": "whatever.py", "content": "import util"},
                {
                    "name": "util.py",
                    "content": base64.b64encode(b"X=1").decode(),
                    "encoding": "base64",
                },
            ],
            stdin="in",
            args=["a"],
            run_timeout=3000,
            run_cpu_time=2000,
            run_memory_limit=64 * 1024 * 1024,
            compile_timeout=10000,
            compile_memory_limit=-1,
        ),
        PYTHON,
    )
    assert base64.b64decode(wire.code) == b"import util"
    assert [(f.name, base64.b64decode(f.content)) for f in wire.files or []] == [
        ("util.py", b"X=1")
    ]
    assert (wire.timeout_ms, wire.cpu_time_limit_ms, wire.memory_mb) == (3000, 2000, 64)
    assert wire.compile_timeout_ms == 10000
    assert wire.args == ["a"]


@pytest.mark.parametrize("limit", ["compile_timeout", "compile_cpu_time", "compile_memory_limit"])
def test_a_compile_limit_below_one_is_refused_by_name(limit):
    with pytest.raises(Refused, match=limit):
        to_wire(request(**{limit: 0}), PYTHON)


def test_an_extra_file_needs_a_name():
    with pytest.raises(Refused, match="name"):
        to_wire(request(files=[{"content": "a"}, {"content": "b"}]), PYTHON)


def reply(**fields) -> Reply:
    base = {"id": "x", "language": "go", "success": False, "status": Status.OK}
    return Reply(**{**base, **fields})


def test_stages_of_a_compiled_run():
    shown = to_piston(
        reply(status=Status.OK, output="hi\n", exit_code=0, memory_kb=2, execution_time_ms=3.0), GO
    )
    assert shown["compile"]["code"] == 0
    assert shown["run"]["stdout"] == "hi\n"
    assert shown["run"]["output"] == "hi\n"
    assert shown["run"]["memory"] == 2048
    assert shown["version"] == "1.23.4"


def test_a_compile_error_has_no_run_stage():
    shown = to_piston(reply(status=Status.COMPILE_ERROR, error="main.go:1: bad"), GO)
    assert shown["compile"]["stderr"] == "main.go:1: bad"
    assert shown["compile"]["code"] == 1
    assert "run" not in shown


@pytest.mark.parametrize(
    ("status", "signal", "piston"),
    [
        (Status.TIMEOUT, "SIGKILL", "TO"),
        (Status.RUNTIME_ERROR, None, "RE"),
        (Status.RUNTIME_ERROR, "SIGSEGV", "SG"),
        (Status.OUTPUT_LIMIT, None, "OL"),
        (Status.OK, None, None),
    ],
)
def test_run_status(status, signal, piston):
    shown = to_piston(reply(status=status, signal=signal, exit_code=None if signal else 1), PYTHON)
    assert shown["run"]["status"] == piston
    assert "compile" not in shown
