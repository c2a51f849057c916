"""The Judge0 translation: submissions in, statuses and fields out (no NATS, no HTTP)."""

from __future__ import annotations

import base64
import io
import time
import zipfile

import pytest

from gateway.errors import Refused, Unprocessable
from gateway.judge0 import languages as judge0_languages
from gateway.judge0 import record as records
from gateway.judge0 import statuses
from gateway.judge0.submission import Limits, check_callback, parse, to_wire
from gateway.testing.fakes import language
from wire import Status
from wire.replies import Reply

SERVED = [
    language("python", ["python"], "main.py"),
    language("cpp", ["cpp"], "main.cpp", compiled=True),
]
LIMITS = Limits(wall_s=10, cpu_s=10, memory_kb=400 * 1024)


def wire_of(data, base64_encoded=False):
    return to_wire(
        parse(data), base64_encoded=base64_encoded, languages=SERVED, limits=LIMITS, request_id="t"
    )


def test_a_submission_becomes_a_wire_request_with_limits_in_engine_units():
    wire = wire_of(
        {
            "language_id": 71,
            "source_code": "print(input())",
            "stdin": "hi",
            "cpu_time_limit": 2.5,
            "wall_time_limit": 5,
            "memory_limit": 128000,
            "command_line_arguments": "a 'b c'",
        }
    )
    assert wire.language == "python"
    assert base64.b64decode(wire.code) == b"print(input())"
    assert base64.b64decode(wire.stdin or "") == b"hi"
    assert (wire.cpu_time_limit_ms, wire.timeout_ms, wire.memory_mb) == (2500, 5000, 125)
    assert wire.args == ["a", "b c"]


def test_base64_encoded_texts_are_decoded():
    wire = wire_of(
        {"language_id": 54, "source_code": base64.b64encode(b"int main(){}").decode()},
        base64_encoded=True,
    )
    assert wire.language == "cpp"
    assert base64.b64decode(wire.code) == b"int main(){}"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"language_id": 71, "source_code": "x", "stack_limit": 64000}, "stack_limit"),
        ({"language_id": 71, "source_code": "x", "enable_network": True}, "enable_network"),
        ({"language_id": 71, "source_code": "x", "number_of_runs": 3}, "number_of_runs"),
        ({"language_id": 71, "source_code": "x", "compiler_options": "-O3"}, "compiler_options"),
        (
            {"language_id": 71, "source_code": "x", "redirect_stderr_to_stdout": True},
            "redirect_stderr_to_stdout",
        ),
        ({"language_id": 71, "source_code": "x", "no_such_field": 1}, "no_such_field"),
        ({"language_id": "71", "source_code": "x"}, "language_id"),
        ({"language_id": 62, "source_code": "x"}, "language_id"),  # Java: not served here
        ({"language_id": 71}, "source_code"),
        ({"language_id": 71, "source_code": "x", "wall_time_limit": 60}, "wall_time_limit"),
        ({"language_id": 71, "source_code": "x", "memory_limit": 10**7}, "memory_limit"),
        (
            {"language_id": 71, "source_code": "x", "additional_files": "bm90IGEgemlw"},
            "additional_files",
        ),
    ],
)
def test_what_means_nothing_here_is_a_422_naming_the_field(data, field):
    with pytest.raises(Unprocessable) as caught:
        wire_of(data)
    assert caught.value.field == field
    assert caught.value.status == 422


def test_harmless_defaults_of_unsupported_fields_pass():
    wire_of(
        {
            "language_id": 71,
            "source_code": "x",
            "enable_network": False,
            "number_of_runs": 1,
            "redirect_stderr_to_stdout": False,
            "compiler_options": None,
        }
    )


def test_additional_files_zip_becomes_extra_files():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("util.py", "X = 1\n")
        archive.writestr("pkg/mod.py", "Y = 2\n")
    wire = wire_of(
        {
            "language_id": 71,
            "source_code": "import util",
            "additional_files": base64.b64encode(buffer.getvalue()).decode(),
        }
    )
    assert [(f.name, base64.b64decode(f.content)) for f in wire.files or []] == [
        ("util.py", b"X = 1\n"),
        ("pkg/mod.py", b"Y = 2\n"),
    ]


def test_callbacks_only_to_allowed_hosts():
    check_callback(None, frozenset())
    with pytest.raises(Unprocessable, match="off"):
        check_callback("http://10.0.0.1/hook", frozenset())
    with pytest.raises(Unprocessable, match="host"):
        check_callback("http://169.254.169.254/", frozenset({"hooks.example"}))
    with pytest.raises(Unprocessable, match="http"):
        check_callback("file:///etc/passwd", frozenset({"hooks.example"}))
    check_callback("https://hooks.example/judge0", frozenset({"hooks.example"}))


@pytest.mark.parametrize(
    ("status", "extra", "judge0_id"),
    [
        (Status.OK, {}, 3),
        (Status.OK, {"expected_output": "42  \n\n", "output": "42\n"}, 3),
        (Status.OK, {"expected_output": "43", "output": "42\n"}, 4),
        (Status.COMPILE_ERROR, {}, 6),
        (Status.TIMEOUT, {}, 5),
        (Status.RUNTIME_ERROR, {"signal_name": "SIGSEGV"}, 7),
        (Status.RUNTIME_ERROR, {"signal_name": "SIGXFSZ"}, 8),
        (Status.RUNTIME_ERROR, {"signal_name": "SIGFPE"}, 9),
        (Status.RUNTIME_ERROR, {"signal_name": "SIGABRT"}, 10),
        (Status.RUNTIME_ERROR, {"exit_code": 1}, 11),
        (Status.RUNTIME_ERROR, {"signal_name": "SIGKILL"}, 12),
        (Status.MEMORY_LIMIT, {}, 12),
        (Status.OUTPUT_LIMIT, {}, 8),
        (Status.INTERNAL_ERROR, {"error": "container lost"}, 13),
        (Status.BUSY, {}, 13),
    ],
)
def test_status_mapping(status, extra, judge0_id):
    found, _message = statuses.verdict(status, **extra)
    assert found.id == judge0_id
    assert found is statuses.BY_ID[judge0_id]


def test_judge0_strip_compares_as_judge0_does():
    assert statuses.judge0_strip("a \nb\t\n\n") == "a\nb"
    assert statuses.judge0_strip(" a") == " a"  # leading space counts


def test_languages_served_follow_what_the_daemons_report():
    ids = [row.id for row, _ in judge0_languages.served(SERVED)]
    assert ids == [52, 53, 54, 71]
    wider = [*SERVED, language("java", ["java"], "Main.java")]
    assert 62 in [row.id for row, _ in judge0_languages.served(wider)]
    assert judge0_languages.display_name(judge0_languages.BY_ID[71], "3.11.2") == "Python (3.11.2)"
    assert judge0_languages.display_name(judge0_languages.BY_ID[54], "") == "C++ (GCC 9.2.0)"


def test_ids_are_unique_and_every_engine_name_is_lower_case():
    ids = [row.id for row in judge0_languages.TABLE]
    assert len(ids) == len(set(ids))
    assert all(row.engine == row.engine.lower() for row in judge0_languages.TABLE)


def reply(**fields):
    base = {"id": "t", "language": "python", "success": False, "status": Status.OK}
    return Reply(**{**base, **fields})


def test_record_fields_and_base64():
    submission = parse({"language_id": 71, "source_code": "print('é')", "expected_output": "é"})
    record = records.new_record(
        "tok",
        submission,
        {"source_code": "print('é')".encode(), "expected_output": "é".encode()},
        "Python (3.11)",
        b"{}",
    )
    done = records.finish(
        record, reply(status=Status.OK, output="é\n", cpu_time_ms=12.3456, execution_time_ms=20.0)
    )
    shown = records.render(done, records.DEFAULT_FIELDS, False)
    assert shown["status"] == {"id": 3, "description": "Accepted"}
    assert shown["stdout"] == "é\n"
    assert shown["time"] == "0.012"
    encoded = records.render(done, ("stdout", "source_code", "language"), True)
    assert base64.b64decode(encoded["stdout"]) == "é\n".encode()
    assert base64.b64decode(encoded["source_code"]) == "print('é')".encode()
    assert encoded["language"] == {"id": 71, "name": "Python (3.11)"}


def test_compile_error_goes_to_compile_output():
    submission = parse({"language_id": 54, "source_code": "int main("})
    record = records.new_record("tok", submission, {}, "C++", b"{}")
    done = records.finish(record, reply(status=Status.COMPILE_ERROR, error="main.cpp:1: error"))
    assert (done.status_id, done.compile_output, done.stderr) == (6, "main.cpp:1: error", None)


def test_fields_parameter():
    assert records.wanted_fields(None) == records.DEFAULT_FIELDS
    assert "source_code" in records.wanted_fields("*")
    assert records.wanted_fields("stdout, status_id") == ("stdout", "status_id")
    with pytest.raises(Refused, match="invalid fields"):
        records.wanted_fields("stdout,password")


def test_the_reference_page_lists_every_judge0_id():
    from service.testing.harness import ROOT

    page = (ROOT / "docs" / "reference" / "gateway-judge0.md").read_text()
    for row in judge0_languages.TABLE:
        assert f"| {row.id} | `{row.engine}` |" in page, row


def test_a_run_is_orphaned_once_unfinished_and_its_lease_lapsed(monkeypatch):
    submission = parse({"language_id": 71, "source_code": "print(1)"})
    record = records.new_record("t", submission, {}, "Python (3.11.2)", b'{"language":"python"}')
    assert records.orphaned(record)  # no lease yet: nobody runs it
    leased = records.leased(record, 10.0, statuses.PROCESSING)
    assert leased.status_id == statuses.PROCESSING.id and not records.orphaned(leased)
    clock = time.time()
    monkeypatch.setattr(records.time, "time", lambda: clock + 11.0)
    assert records.orphaned(leased)
    done = records.failed(leased, statuses.INTERNAL_ERROR, "lost")
    assert not records.orphaned(done)
    assert done.request is None and done.lease_until is None
    assert "request" not in records.render(done, tuple(records.ALL_FIELDS), False)
