"""Polygon packages read into the package model: problem.xml, tests, groups and points,
checkers (testlib and standard), interactors, solutions' tags; untrusted XML refused
where it could do harm; malformed packages named."""

import asyncio
import base64
import io
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from problem_package import MalformedPackage, PackageError, read_package
from problem_package.generation import complete_tests
from problem_package.judging import judge, points, requests_for
from problem_package.polygon_xml import MAX_XML_BYTES, parse_xml
from problem_package.programs import load_program
from problem_package.source import opened

PACKAGES = Path(__file__).resolve().parents[1] / "packages"


def copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(PACKAGES / name, tmp_path / name))


def edit(package: Path, old: str, new: str) -> None:
    xml = package / "problem.xml"
    text = xml.read_text()
    assert old in text
    xml.write_text(text.replace(old, new))


def refusal(package: Path) -> str:
    with pytest.raises(MalformedPackage) as caught:
        read_package(package)
    return str(caught.value)


def test_a_scored_package_with_groups_and_a_testlib_checker():
    package = read_package(PACKAGES / "polygon_points")
    meta = package.meta
    assert (meta.version, meta.name, meta.scoring, meta.interactive) == (
        "polygon",
        "Sum, for points",
        True,
        False,
    )
    assert (meta.time_limit_s, meta.memory_mb) == (1.0, 256)
    groups = {
        g.name: (g.parent, g.aggregation, g.on_reject_break, g.requires)
        for g in package.data.groups
    }
    assert groups == {
        "tests": (None, "sum", False, ()),
        "tests/0": ("tests", "sum", False, ()),
        "tests/1": ("tests", "pass-fail", True, ()),
        "tests/2": ("tests", "sum", False, ("tests/1",)),
    }
    assert package.data.group("tests/2").input_validator_args == (
        "--testset",
        "tests",
        "--group",
        "2",
    )
    assert [(t.name, t.group, points(package, t)) for t in package.data.tests] == [
        ("tests/01", "tests/0", 0.0),
        ("tests/02", "tests/1", 20.0),
        ("tests/03", "tests/1", 20.0),
        ("tests/04", "tests/2", 30.0),
        ("tests/05", "tests/2", 30.0),
    ]
    checker = package.output_validator
    assert checker is not None and checker.language == "cpp"
    assert [name for name, _ in checker.files] == ["testlib.h"]
    assert [v.path.name for v in package.input_validators] == ["val.cpp"]
    assert package.valid_input_exit == 0
    tags = [(s.name, s.folder) for s in package.submissions]
    assert tags[0] == ("solutions/sum.py", "main")
    assert package.warnings == ()


def test_requests_carry_the_testlib_checker_and_points():
    package = read_package(PACKAGES / "polygon_points")
    program = load_program(package.root / "solutions/sum.py")
    pieces = requests_for(package, program, 1.0, 10_000)
    assert [len(tests) for tests, _ in pieces] == [1, 2, 2]
    request = pieces[1][1]
    assert request["checker"]["convention"] == "testlib"
    assert [t["points"] for t in request["tests"]] == [20.0, 20.0]
    assert request["stop_on_first_failure"] is False
    assert (request["cpu_time_limit_ms"], request["memory_mb"]) == (1000, 256)


def test_a_standard_checker_is_the_engines_comparison():
    package = read_package(PACKAGES / "polygon_standard")
    assert package.output_validator is None
    program = load_program(package.root / "solutions/divide.py")
    ((_, request),) = requests_for(package, program, 1.0, 10_000)
    assert (request["compare"], request["float_tolerance"]) == ("float", 1e-6)
    assert request["stop_on_first_failure"] is True  # no points: pass-fail
    assert "checker" not in request


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("std::wcmp.cpp", {"compare": "tokens"}),
        ("std::ncmp.cpp", {"compare": "tokens"}),
        ("std::rcmp4.cpp", {"compare": "float", "float_tolerance": 1e-4}),
        ("std::rcmp9.cpp", {"compare": "float", "float_tolerance": 1e-9}),
        ("std::yesno.cpp", {"compare": "icpc"}),
    ],
)
def test_standard_checkers_by_name(tmp_path, name, fields):
    package = copy("polygon_standard", tmp_path)
    edit(package, "std::rcmp6.cpp", name)
    assert read_package(package).compare == fields


def test_a_standard_checker_without_an_equivalent_uses_its_source(tmp_path):
    package = copy("polygon_standard", tmp_path)
    edit(package, "std::rcmp6.cpp", "std::lcmp.cpp")
    assert "has no <source>" in refusal(package)
    (package / "files").mkdir()
    (package / "files/check.cpp").write_text('#include "testlib.h"\nint main() {}\n')
    edit(
        package,
        'name="std::lcmp.cpp" type="testlib"/>',
        'name="std::lcmp.cpp" type="testlib"><source path="files/check.cpp"/></checker>',
    )
    assert "files/testlib.h: missing" in refusal(package)
    shutil.copy(PACKAGES / "polygon_points/files/testlib.h", package / "files/testlib.h")
    read = read_package(package)
    assert read.compare is None and read.output_validator is not None
    assert [name for name, _ in read.output_validator.files] == ["testlib.h"]


def test_an_interactive_package():
    package = read_package(PACKAGES / "polygon_interactive")
    assert package.meta.interactive and not package.meta.scoring
    program = load_program(package.root / "solutions/bisect.py")
    ((_, request),) = requests_for(package, program, 1.0, 10_000)
    assert request["interactor"]["convention"] == "testlib"
    assert "checker" not in request and "compare" not in request
    check = package.interaction_check
    assert check is not None and check["checker"]["convention"] == "testlib"
    assert [name for name in check["checker"].get("files", [])] != []
    # tests/03.a is absent: the main solution, talking to the interactor, makes it.
    (missing,) = package.missing
    assert (missing.test.name, missing.generator) == ("tests/03", None)
    assert missing.solution is not None and missing.solution.path.name == "bisect.py"


def replayed(code: bytes, stdin: bytes) -> str:
    """What the replay program prints for ``stdin``."""
    out = io.TextIOWrapper(io.BytesIO())
    with (
        patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin))),
        patch.object(sys, "stdout", out),
    ):
        exec(code, {})
        out.flush()
    return out.buffer.getvalue().decode()  # type: ignore[attr-defined]


class ReplayEngine:
    """The interactive run: every test accepted, the interactor having written its id;
    the check: the replay run for real, the checker's part faked (wrong on tests/02)."""

    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        reports = []
        for test in request["tests"]:
            if "interactor" in request:
                output, status = f"{test['id']}\n", "accepted"
            else:
                self.checks.append(request)
                code = base64.b64decode(request["code"])
                stdin = base64.b64decode(test["stdin"])
                output = replayed(code, stdin)
                status = "wrong_answer" if output == "tests/02\n" else "accepted"
            ok = status == "accepted"
            reports.append(
                {
                    "id": test["id"],
                    "status": status,
                    "passed": ok,
                    "output": output,
                    "score": ok * test.get("points", 1),
                    "cpu_time_ms": 5.0 if "interactor" in request else 99.0,
                }
            )
        return {
            "id": "x",
            "language": "python",
            "success": True,
            "status": "accepted",
            "tests": reports,
        }


def test_the_checker_judges_what_the_interactor_wrote():
    package = read_package(PACKAGES / "polygon_interactive")
    program = load_program(package.root / "solutions/bisect.py")
    engine = ReplayEngine()
    judged = asyncio.run(judge(engine, package, program, 1.0, 10_000))  # type: ignore[arg-type]
    assert [r.status for r in judged.reports] == ["accepted", "wrong_answer", "accepted"]
    assert {r.cpu_time_ms for r in judged.reports} == {5.0}  # the solution's own measures
    assert {c["checker"]["convention"] for c in engine.checks} == {"testlib"}
    assert judged.status == "wrong_answer"


def test_solutions_tags_are_expectations():
    package = read_package(PACKAGES / "polygon_points")
    by_name = {s.name: s for s in package.submissions}
    assert by_name["solutions/sum.cpp"].problems(["AC", "AC"], None) == []
    assert by_name["solutions/wa_large.py"].problems(["AC", "WA"], None) == []
    assert by_name["solutions/wa_large.py"].problems(["AC", "AC"], None) != []
    spin = by_name["solutions/spin.py"]
    assert spin.bounds_time_limit and spin.problems(["TLE"], None) == []
    assert spin.problems(["WA"], None) != []


def test_an_unknown_tag_is_only_judged(tmp_path):
    package = copy("polygon_standard", tmp_path)
    edit(package, 'tag="wrong-answer"', 'tag="slow-but-fine"')
    read = read_package(package)
    assert any("tag 'slow-but-fine' has no rule" in w for w in read.warnings)


class GroupEngine:
    """Accepts every test but those named, which get wrong_answer."""

    def __init__(self, wrong: set[str]) -> None:
        self.wrong = wrong

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        tests = []
        for test in request["tests"]:
            ok = test["id"] not in self.wrong
            status = "accepted" if ok else "wrong_answer"
            tests.append(
                {"id": test["id"], "status": status, "passed": ok, "score": test["points"] * ok}
            )
        return {
            "id": "x",
            "language": "python",
            "success": True,
            "status": "accepted",
            "tests": tests,
        }


@pytest.mark.parametrize(
    ("wrong", "score"),
    [
        (set(), 100.0),
        ({"tests/05"}, 70.0),  # each-test: the other test of group 2 still counts
        ({"tests/03"}, 0.0),  # complete-group 1 fails; group 2 depends on it
        ({"tests/01"}, 100.0),  # the sample scores nothing
    ],
)
def test_points_policies_and_dependencies(wrong, score):
    package = read_package(PACKAGES / "polygon_points")
    program = load_program(package.root / "solutions/sum.py")
    judged = asyncio.run(judge(GroupEngine(wrong), package, program, 1.0, 10_000))  # type: ignore[arg-type]
    assert (judged.score, judged.max_score) == (score, 100.0)


def test_a_zipped_package_is_found_in_its_folder(tmp_path):
    archive = tmp_path / "p.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in (PACKAGES / "polygon_standard").rglob("*"):
            out.write(path, Path("divide") / path.relative_to(PACKAGES / "polygon_standard"))
    with opened(archive) as root:
        assert read_package(root).meta.name == "Divide"


def test_named_input_and_output_files_make_a_file_task():
    meta = read_package(PACKAGES / "polygon_files").meta
    assert meta.file_task_fields() == {"input_file": "input.txt", "output_file": "output.txt"}
    assert read_package(PACKAGES / "polygon_standard").meta.file_task_fields() == {}


def test_named_files_in_an_interactive_problem_are_refused(tmp_path):
    package = copy("polygon_interactive", tmp_path)
    edit(package, 'input-file=""', 'input-file="input.txt"')
    assert "an interactive problem cannot read or write named files" in refusal(package)


def test_a_generated_test_absent_from_the_package_is_made_in_the_sandbox():
    package = read_package(PACKAGES / "polygon_points")  # it lacks tests/04 and its answer
    (missing,) = package.missing
    assert (missing.test.name, missing.command, missing.args) == ("tests/04", "gen 5 1", ("5", "1"))
    assert missing.generator is not None and missing.generator.path.name == "gen.cpp"
    assert [name for name, _ in missing.generator.files] == ["testlib.h"]
    assert missing.solution is not None and missing.solution.path.name == "sum.py"  # main


class MakingEngine:
    """The generator prints its arguments; the main solution prints the input's length."""

    def __init__(self, status: str = "ok") -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = status

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        if "args" in request:
            return {"status": self.status, "output": " ".join(request["args"]) + "\n"}
        given = base64.b64decode(request["stdin"])
        return {"status": "ok", "output": f"{len(given)}\n"}


def test_missing_tests_are_made_before_judging():
    package = read_package(PACKAGES / "polygon_points")
    engine = MakingEngine()
    done = asyncio.run(complete_tests(engine, package, 10_000, lambda _: None))  # type: ignore[arg-type]
    made = next(t for t in done.data.tests if t.name == "tests/04")
    assert (made.input, made.answer, made.points) == (b"5 1\n", b"4\n", 30.0)
    assert done.missing == ()
    generator, solution = engine.requests
    assert "stdin" not in generator and generator["language"] == "cpp"
    assert (solution["cpu_time_limit_ms"], solution["memory_mb"]) == (1000, 256)


def test_a_generator_that_fails_names_the_test():
    package = read_package(PACKAGES / "polygon_points")
    with pytest.raises(PackageError, match=r"tests/04: its generator 'gen 5 1' ended with runtime"):
        asyncio.run(complete_tests(MakingEngine("runtime_error"), package, 10_000, print))  # type: ignore[arg-type]


def test_a_generated_test_without_its_executable_is_named(tmp_path):
    package = copy("polygon_standard", tmp_path)
    (package / "tests/03").unlink()
    message = refusal(package)
    assert message.startswith(f"{package / 'tests/03'}: test 3 is generated by 'gen 1000000 7'")
    assert "lists no executable 'gen'" in message
    edit(package, 'cmd="gen 1000000 7"', 'cmd="gen 5 &gt; $"')
    assert "not one executable with arguments" in refusal(package)


def test_an_absent_answer_is_the_main_solutions(tmp_path):
    package = copy("polygon_standard", tmp_path)
    (package / "tests/02.a").unlink()
    (missing,) = read_package(package).missing
    assert missing.generator is None and missing.solution is not None
    assert missing.solution.path.name == "divide.py"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: (p / "tests/02").unlink(), "tests/02: missing: test 2's input"),
        (lambda p: (p / "solutions/rounded.py").unlink(), "rounded.py: missing: a solution"),
        (lambda p: edit(p, "<test-count>3", "<test-count>4"), "test-count is 4 but"),
        (lambda p: edit(p, "tests/%02d.a", "tests/%s.a"), "must hold one %d or %0Nd"),
        (lambda p: edit(p, "tests/%02d.a", "../%02d.a"), "leads outside the package"),
        (lambda p: edit(p, "<time-limit>1000", "<time-limit>fast"), "must be a positive"),
        (lambda p: edit(p, '<testset name="tests">', '<testset name="pre">'), "no <testset"),
        (
            lambda p: [edit(p, f'tag="{t}"', 'tag="rejected"') for t in ("main", "accepted")],
            "no solution tagged main",
        ),
        (lambda p: edit(p, "</problem>", ""), "not well-formed XML"),
    ],
)
def test_malformed_packages_name_the_file(tmp_path, change, expected):
    package = copy("polygon_standard", tmp_path)
    change(package)
    assert expected in refusal(package)


def test_an_unknown_dependency_is_named(tmp_path):
    package = copy("polygon_points", tmp_path)
    edit(package, '<dependency group="1"/>', '<dependency group="7"/>')
    assert "group '2' depends on unknown group '7'" in refusal(package)


def test_entities_and_document_types_are_refused(tmp_path):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE problem [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><problem>&b;</problem>'
    )
    with pytest.raises(MalformedPackage, match="document type declaration"):
        parse_xml(laughs, "problem.xml")
    external = b'<!DOCTYPE problem SYSTEM "file:///etc/passwd"><problem/>'
    with pytest.raises(MalformedPackage, match="document type declaration"):
        parse_xml(external, "problem.xml")
    with pytest.raises(MalformedPackage, match="undefined entity"):
        parse_xml(b"<problem>&secret;</problem>", "problem.xml")
    package = copy("polygon_standard", tmp_path)
    xml = package / "problem.xml"
    xml.write_bytes(laughs)
    assert refusal(package).startswith(f"{xml}: not accepted")


def test_size_and_depth_are_capped(tmp_path):
    package = copy("polygon_standard", tmp_path)
    xml = package / "problem.xml"
    xml.write_bytes(b"<problem>" + b" " * MAX_XML_BYTES + b"</problem>")
    assert "larger than" in refusal(package)
    with pytest.raises(MalformedPackage, match="nested deeper"):
        parse_xml(b"<a>" * 100 + b"</a>" * 100, "problem.xml")


def test_a_checker_in_another_language_is_still_called_testlibs_way(tmp_path):
    package = copy("polygon_standard", tmp_path)
    (package / "files").mkdir()
    (package / "files/check.py").write_text("import sys\nsys.exit(0)\n")
    edit(
        package,
        '<checker name="std::rcmp6.cpp" type="testlib"/>',
        '<checker type="testlib"><source path="files/check.py" type="python.3"/></checker>',
    )
    read = read_package(package)
    program = load_program(package / "solutions/divide.py")
    ((_, request),) = requests_for(read, program, 1.0, 10_000)
    assert (request["checker"]["language"], request["checker"]["convention"]) == (
        "python",
        "testlib",
    )
    assert "files" not in request["checker"]


class InteractingEngine:
    """The main solution's run against the interactor: the interactor wrote 7."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        (test,) = request["tests"]
        report = {"id": test["id"], "status": "accepted", "passed": True, "output": "7\n"}
        return {"status": "accepted", "tests": [report]}


def test_an_interactive_answer_is_what_the_interactor_wrote_for_the_main_solution():
    package = read_package(PACKAGES / "polygon_interactive")
    engine = InteractingEngine()
    done = asyncio.run(complete_tests(engine, package, 10_000, lambda _: None))  # type: ignore[arg-type]
    assert next(t.answer for t in done.data.tests if t.name == "tests/03") == b"7\n"
    (request,) = engine.requests
    assert request["interactor"]["convention"] == "testlib"
    assert base64.b64decode(request["tests"][0]["stdin"]) == b"100\n"
