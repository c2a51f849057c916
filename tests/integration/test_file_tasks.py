"""File tasks end to end: a program that reads input.txt and writes output.txt instead of
stdin and stdout, in several languages, graded by compare and by checkers of both
conventions; a missing output file, one over the output limit, and a symlink planted in
its place (never followed). The ``smoke`` ones run again under gVisor (``make gvisor``)."""

from __future__ import annotations

import base64

import pytest

from engine_client import build_request
from service.testing.client import send

SUBJECT = "problems.execute.request"
FILES = {"input_file": "input.txt", "output_file": "output.txt"}
# The problems subject's output limit per stream (CODE_ENGINE_PROBLEMS_OUTPUT_LIMIT).
OUTPUT_LIMIT = 1 << 20


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def case(stdin: str, expected: str) -> dict:
    return {"stdin": b64(stdin), "expected_output": b64(expected)}


ADDITION = [case("1 2\n", "3\n"), case("40 2\n", "42\n")]


def judge(daemon, language: str, code: str, tests: list[dict], **fields) -> dict:
    request = build_request(language, code, tests=tests, **{**FILES, **fields})
    return send(daemon.nats_url, request, subject=SUBJECT, timeout=300)


ADDERS = {
    "python": (
        "a, b = map(int, open('input.txt').read().split())\n"
        "with open('output.txt', 'w') as out:\n    out.write(f'{a + b}\\n')\n"
    ),
    "cpp": (
        "#include <fstream>\n"
        'int main() { std::ifstream in("input.txt"); std::ofstream out("output.txt");\n'
        "  long a, b; in >> a >> b; out << a + b << '\\n'; }\n"
    ),
    "java": (
        "import java.io.*;\nimport java.nio.file.*;\nimport java.util.*;\n"
        "public class Main { public static void main(String[] args) throws IOException {\n"
        '  Scanner in = new Scanner(new File("input.txt"));\n'
        "  long a = in.nextLong(), b = in.nextLong();\n"
        '  Files.writeString(Path.of("output.txt"), (a + b) + "\\n"); } }\n'
    ),
    "go": (
        'package main\nimport ("fmt"; "os")\n'
        'func main() { in, _ := os.Open("input.txt"); var a, b int; fmt.Fscan(in, &a, &b)\n'
        '  os.WriteFile("output.txt", []byte(fmt.Sprintf("%d\\n", a+b)), 0o644) }\n'
    ),
    "javascript": (
        "const fs = require('fs');\n"
        "const [a, b] = fs.readFileSync('input.txt', 'utf8').trim().split(/\\s+/).map(Number);\n"
        "fs.writeFileSync('output.txt', `${a + b}\\n`);\n"
    ),
}


@pytest.mark.parametrize(
    "language",
    [
        pytest.param("python", marks=pytest.mark.smoke),
        pytest.param("cpp", marks=pytest.mark.smoke),
        pytest.param("java", marks=pytest.mark.smoke),
        "go",
        "javascript",
    ],
)
def test_a_file_task_in_each_language(daemon, language):
    reply = judge(daemon, language, ADDERS[language], ADDITION)
    assert reply["status"] == "accepted", reply
    assert [t["output"] for t in reply["tests"]] == ["3\n", "42\n"]


@pytest.mark.smoke
def test_the_input_is_the_programs_own_file_and_stdin_is_empty(daemon):
    code = (
        "import os, stat, sys\n"
        "info = os.stat('input.txt')\n"
        "own = info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o600\n"
        "with open('output.txt', 'w') as out:\n"
        "    out.write(f'{own} {len(sys.stdin.read())} {open(\"input.txt\").read()}')\n"
    )
    reply = judge(daemon, "python", code, [case("data\n", "True 0 data\n")])
    assert reply["status"] == "accepted", reply


@pytest.mark.smoke
def test_stdout_is_not_the_output_and_no_verdict(daemon):
    # The right answer in the file, a flood past the output limit on stdout.
    code = (
        "import sys\nsys.stdout.write('noise' * 300000)\n"
        "with open('output.txt', 'w') as out:\n    out.write('3\\n')\n"
    )
    reply = judge(daemon, "python", code, [case("1 2\n", "3\n")])
    assert reply["status"] == "accepted", reply
    assert reply["tests"][0]["output"] == "3\n"


def test_only_the_input_or_only_the_output_as_a_file(daemon):
    reads = "a, b = map(int, open('input.txt').read().split())\nprint(a + b)\n"
    reply = judge(daemon, "python", reads, ADDITION, output_file=None)
    assert reply["status"] == "accepted", reply
    writes = "a, b = map(int, input().split())\nopen('output.txt', 'w').write(f'{a + b}\\n')\n"
    reply = judge(daemon, "python", writes, ADDITION, input_file=None)
    assert reply["status"] == "accepted", reply


@pytest.mark.smoke
def test_a_missing_output_file_is_empty_output(daemon):
    code = "open('input.txt').read()\nprint(3)\n"
    reply = judge(daemon, "python", code, [case("1 2\n", "3\n"), case("", "")])
    assert [t["status"] for t in reply["tests"]] == ["wrong_answer", "accepted"], reply
    assert reply["tests"][0]["output"] == ""


@pytest.mark.smoke
def test_an_output_file_over_the_limit_is_output_limit(daemon):
    code = f"with open('output.txt', 'w') as out:\n    out.write('x' * {OUTPUT_LIMIT + 1})\n"
    reply = judge(daemon, "python", code, [case("", "x")])
    (test,) = reply["tests"]
    assert test["status"] == "output_limit", reply
    assert test["truncated"] is True
    assert f"output.txt holds more than {OUTPUT_LIMIT} bytes" in test["error"]


@pytest.mark.smoke
@pytest.mark.parametrize("target", ["/etc/passwd", "/proc/1/environ", "/work/build/main.py"])
def test_a_symlink_planted_as_the_output_file_is_not_followed(daemon, target):
    code = f"import os\nos.symlink({target!r}, 'output.txt')\n"
    reply = judge(daemon, "python", code, [case("", "root")])
    (test,) = reply["tests"]
    assert (test["status"], test["output"]) == ("wrong_answer", ""), reply


def test_a_program_that_dies_keeps_its_verdict(daemon):
    code = "open('output.txt', 'w').write('3\\n')\nraise SystemExit(3)\n"
    reply = judge(daemon, "python", code, [case("1 2\n", "3\n")])
    assert reply["tests"][0]["status"] == "runtime_error", reply


# A checker that accepts any output whose number is the sum of the input's, whatever
# the spacing: testlib's way (files in argv) and Kattis's (the output on stdin).
TESTLIB_CHECKER = (
    "import sys\n"
    "a, b = map(int, open(sys.argv[1]).read().split())\n"
    "out = open(sys.argv[2]).read().split()\n"
    "sys.exit(0 if out == [str(a + b)] else 1)\n"
)
KATTIS_CHECKER = (
    "import sys\n"
    "a, b = map(int, open(sys.argv[1]).read().split())\n"
    "out = sys.stdin.read().split()\n"
    "if out != [str(a + b)]:\n"
    "    open(sys.argv[3] + 'judgemessage.txt', 'w').write(f'got {out}')\n"
    "    sys.exit(43)\n"
    "sys.exit(42)\n"
)


@pytest.mark.parametrize(
    ("convention", "checker"),
    [
        pytest.param("testlib", TESTLIB_CHECKER, marks=pytest.mark.smoke),
        pytest.param("kattis", KATTIS_CHECKER, marks=pytest.mark.smoke),
    ],
    ids=["testlib", "kattis"],
)
def test_a_checker_grades_the_output_file(daemon, convention, checker):
    spaced = (
        "a, b = map(int, open('input.txt').read().split())\n"
        "open('output.txt', 'w').write(f'  {a + b}  \\n\\n' if a > 1 else f'{a - b}\\n')\n"
    )
    tool = {"language": "python", "code": b64(checker), "convention": convention}
    tests = [case("40 2\n", ""), case("1 2\n", "")]
    reply = judge(daemon, "python", spaced, tests, checker=tool)
    assert [t["status"] for t in reply["tests"]] == ["accepted", "wrong_answer"], reply
    if convention == "kattis":
        assert reply["tests"][1]["checker_output"].startswith("got ['-1']"), reply


def test_compare_modes_grade_the_output_file(daemon):
    code = "open('output.txt', 'w').write('0.3333334 YES\\n')\n"
    tests = [case("", "0.333333 yes\n")]
    icpc = judge(daemon, "python", code, tests, compare="icpc", float_tolerance=1e-5)
    assert icpc["status"] == "accepted", icpc
    exact = judge(daemon, "python", code, tests, compare="exact")
    assert exact["status"] == "wrong_answer", exact


def test_a_file_task_cannot_be_interactive(daemon):
    interactor = {"language": "python", "code": b64("print(1)")}
    reply = judge(daemon, "python", "print(1)", ADDITION, interactor=interactor)
    assert reply["status"] == "invalid_request"
    assert "exclude each other" in reply["error"]


def test_a_bad_file_name_is_refused(daemon):
    reply = judge(daemon, "python", "print(1)", ADDITION, output_file="../output.txt")
    assert reply["status"] == "invalid_request"
    assert reply["error"].startswith("output_file must be a plain file name")


# Two passes: the first on the test's input n (answer n + 1), the second on n + 1
# (answer n + 2); the validator is given the test's input n both times.
TWO_PASSES = (
    "import os, sys\n"
    "n = int(open(sys.argv[1]).read())\n"
    "second = os.path.exists(sys.argv[3] + 'seen')\n"
    "got = sys.stdin.read().split()\n"
    "if got != [str(n + 1 + second)]:\n"
    "    open(sys.argv[3] + 'judgemessage.txt', 'w').write(f'got {got}')\n"
    "    sys.exit(43)\n"
    "if not second:\n"
    "    open(sys.argv[3] + 'seen', 'w').write('')\n"
    "    open(sys.argv[3] + 'nextpass.in', 'w').write(f'{n + 1}\\n')\n"
    "sys.exit(42)\n"
)


def test_each_pass_of_a_multi_pass_problem_reads_and_writes_the_files(daemon):
    checker = {
        "language": "python",
        "code": b64(TWO_PASSES),
        "convention": "kattis",
        "passes": 2,
    }
    code = "n = int(open('input.txt').read())\nopen('output.txt', 'w').write(f'{n + 1}\\n')\n"
    right = judge(daemon, "python", code, [case("5\n", "")], checker=checker)
    assert right["status"] == "accepted", right
    stuck = "open('output.txt', 'w').write('6\\n')\n"  # right on the first pass only
    wrong = judge(daemon, "python", stuck, [case("5\n", "")], checker=checker)
    assert wrong["status"] == "wrong_answer", wrong
    assert wrong["tests"][0]["checker_output"].startswith("got ['6']"), wrong
