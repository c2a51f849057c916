"""File tasks: the request fields validated, carried to the agent, and the agent's
reading and writing of the files (fd-relative, never through a symlink, capped)."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from agent import file_io
from agent.errors import AgentFailure, BadRequest
from agent.jail import JOB_GID, JOB_UID
from agent.protocol import (
    Check,
    ProtocolError,
    Run,
    Step,
    StepLimits,
    StepResult,
    decode_host_message,
    encode,
)
from problem_package import read_package
from problem_package.judging import requests_for
from problem_package.programs import load_program
from service.config import Settings
from service.errors import InvalidRequest
from service.requests import limits_for, parse_request
from service.sandbox.job_messages import run_message, run_step
from wire import Kind

SETTINGS = Settings.from_env({})
LIMITS = limits_for(Kind.PROBLEMS, SETTINGS)
PACKAGES = Path(__file__).resolve().parents[1] / "packages"


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def problem(language: str = "python", **fields: object):
    body: dict[str, object] = {
        "language": language,
        "code": b64("x = 1\n"),
        "tests": [{"stdin": b64("1 2"), "expected_output": b64("3")}],
        **fields,
    }
    return parse_request(json.dumps(body).encode(), Kind.PROBLEMS, LIMITS)


def refusal(language: str = "python", **fields: object) -> str:
    with pytest.raises(InvalidRequest) as info:
        problem(language, **fields)
    return str(info.value)


# --- the request ----------------------------------------------------------------


def test_the_files_are_part_of_the_problem():
    request = problem(input_file="input.txt", output_file="output.txt")
    assert request.problem is not None
    assert (request.problem.input_file, request.problem.output_file) == (
        "input.txt",
        "output.txt",
    )
    assert problem().problem.input_file is None


def test_either_file_alone():
    assert problem(input_file="in").problem.output_file is None
    assert problem(output_file="out").problem.input_file is None


@pytest.mark.parametrize(
    "name", ["", "../input.txt", "dir/input.txt", ".input", "-input", "in put", "a" * 256, "é"]
)
def test_a_file_is_a_plain_file_name(name):
    assert "input_file must be a plain file name" in refusal(input_file=name)
    assert "output_file must be a plain file name" in refusal(output_file=name)


@pytest.mark.parametrize(
    ("language", "fields", "name"),
    [
        ("python", {}, "main.py"),
        ("python", {"files": [{"name": "util.py", "content": ""}]}, "util.py"),
        ("python", {"files": [{"name": "pkg/mod.py", "content": ""}]}, "pkg"),
        ("cpp", {}, "main"),
        ("java", {}, "main.jar"),
        ("java", {}, "Main.java"),
        ("cpp", {"grader": [{"name": "grader.cpp", "content": ""}]}, "grader.cpp"),
    ],
)
def test_a_file_must_not_clash_with_the_programs_own(language, fields, name):
    reason = refusal(language, output_file=name, **fields)
    assert reason == f"output_file {name!r} clashes with a file of the program's own"


def test_input_and_output_are_different_files():
    reason = refusal(input_file="data.txt", output_file="data.txt")
    assert reason == "input_file and output_file must be different files"


def test_an_interactive_problem_has_no_files():
    interactor = {"language": "python", "code": b64("print(1)")}
    reason = refusal(interactor=interactor, output_file="output.txt")
    assert reason.startswith("output_file and interactor exclude each other")


def test_the_files_need_tests():
    body = {"language": "python", "code": b64("print(1)"), "input_file": "input.txt"}
    with pytest.raises(InvalidRequest, match="input_file needs tests"):
        parse_request(json.dumps(body).encode(), Kind.PROBLEMS, LIMITS)


def test_the_files_are_refused_on_the_compiler_subject():
    body = {"language": "python", "code": b64("print(1)"), "output_file": "output.txt"}
    limits = limits_for(Kind.COMPILER, SETTINGS)
    with pytest.raises(InvalidRequest, match="accepted on problems requests only"):
        parse_request(json.dumps(body).encode(), Kind.COMPILER, limits)


# --- the agent protocol ---------------------------------------------------------


def test_the_run_step_carries_the_files_to_the_agent():
    request = problem(input_file="input.txt", output_file="output.txt")
    step = run_step(request, SETTINGS, b"1 2")
    assert (step.input_file, step.output_file, step.stdin) == ("input.txt", "output.txt", b"1 2")
    run = run_message(request, SETTINGS, b"1 2", finish=False)
    decoded = decode_host_message(encode(run))
    assert isinstance(decoded, Run)
    assert (decoded.runs[0].input_file, decoded.runs[0].output_file) == (
        "input.txt",
        "output.txt",
    )
    plain = run_step(problem(), SETTINGS, b"")
    assert "input_file" not in plain.to_wire() and "output_file" not in plain.to_wire()


def test_a_checked_file_task_keeps_its_check():
    checker = {"language": "python", "code": b64("print(1)"), "convention": "kattis"}
    request = problem(checker=checker, output_file="output.txt")
    run = run_message(request, SETTINGS, b"1", finish=False, answer=b"3")
    decoded = decode_host_message(encode(run))
    assert isinstance(decoded, Run) and decoded.checks is not None
    assert decoded.checks[0].convention == "kattis"
    assert decoded.checks[0].step.output_file is None  # the checker reads its own argv


def run_wire(**step: object) -> dict:
    return Run("r", [Step(["prog"], stdin=b"x")]).to_wire() | {
        "runs": [Step(["prog"]).to_wire() | step]
    }


@pytest.mark.parametrize(
    "step",
    [
        {"input_file": "../x"},
        {"output_file": "a/b"},
        {"output_file": ".hidden"},
        {"output_file": ""},
        {"output_file": 7},
        {"input_file": "same", "output_file": "same"},
        {"input_file": "\ud800"},
    ],
)
def test_the_agent_refuses_a_file_that_is_not_a_plain_name(step):
    with pytest.raises(ProtocolError):
        decode_host_message(json.dumps(run_wire(**step)))


def test_a_compile_or_tool_step_has_no_files():
    check = Check(Step(["checker"])).to_wire()
    check["step"]["output_file"] = "output.txt"
    wire = run_wire() | {"checks": [check]}
    with pytest.raises(ProtocolError, match="only a run"):
        decode_host_message(json.dumps(wire))


def test_an_interactive_run_has_no_files():
    wire = run_wire(output_file="output.txt") | {
        "checks": [Check(Step(["interactor"]), interactive=True).to_wire()]
    }
    with pytest.raises(ProtocolError, match="interactive run"):
        decode_host_message(json.dumps(wire))


# --- the agent's file work --------------------------------------------------------


def file_step(**fields: object) -> Step:
    return Step(["prog"], stdin=b"1 2\n", limits=StepLimits(output_bytes=8), **fields)


RAN = StepResult(exit_code=0, signal=None, stdout=b"", stdout_truncated=True)


def test_the_input_is_the_jobs_own_file(tmp_path):
    file_io.place_input(file_step(input_file="input.txt"), str(tmp_path), (JOB_UID, JOB_GID))
    placed = tmp_path / "input.txt"
    assert placed.read_bytes() == b"1 2\n"
    info = placed.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (JOB_UID, JOB_GID, 0o600)


def test_the_input_file_is_never_written_through_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"kept")
    run = tmp_path / "run"
    run.mkdir()
    (run / "input.txt").symlink_to(victim)
    with pytest.raises(BadRequest):
        file_io.place_input(file_step(input_file="input.txt"), str(run), (JOB_UID, JOB_GID))
    assert victim.read_bytes() == b"kept"


def taken(tmp_path, kill=lambda: True) -> StepResult:
    return file_io.take_output(file_step(output_file="output.txt"), str(tmp_path), RAN, kill)


def test_the_output_file_is_the_runs_output(tmp_path):
    (tmp_path / "output.txt").write_bytes(b"3\n")
    result = taken(tmp_path)
    assert (result.stdout, result.stdout_truncated, result.output_exceeded) == (
        b"3\n",
        False,
        False,
    )


def test_a_missing_output_file_is_empty_output(tmp_path):
    result = taken(tmp_path)
    assert (result.stdout, result.output_exceeded, result.failed) == (b"", False, False)


def test_an_output_file_over_the_limit_is_output_exceeded(tmp_path):
    (tmp_path / "output.txt").write_bytes(b"x" * 9)
    result = taken(tmp_path)
    assert (result.stdout, result.stdout_truncated, result.output_exceeded) == (
        b"x" * 8,
        True,
        True,
    )


def test_an_output_file_at_the_limit_is_whole(tmp_path):
    (tmp_path / "output.txt").write_bytes(b"x" * 8)
    assert not taken(tmp_path).output_exceeded


def test_a_symlinked_output_file_is_not_followed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"root's")
    run = tmp_path / "run"
    run.mkdir()
    (run / "output.txt").symlink_to(secret)
    assert taken(run).stdout == b""


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_an_output_file_that_is_no_regular_file_is_empty(tmp_path, kind):
    if kind == "fifo":
        os.mkfifo(tmp_path / "output.txt")
    else:
        (tmp_path / "output.txt").mkdir()
    assert taken(tmp_path).stdout == b""


def test_the_output_is_read_only_once_every_job_process_is_gone(tmp_path):
    with pytest.raises(AgentFailure):
        taken(tmp_path, kill=lambda: False)


def test_a_step_without_files_is_left_as_it_ran(tmp_path):
    def never() -> bool:
        raise AssertionError("nothing to kill for")

    step = Step(["prog"])
    assert file_io.take_output(step, str(tmp_path), RAN, never) is RAN
    file_io.place_input(step, str(tmp_path), (JOB_UID, JOB_GID))
    assert os.listdir(tmp_path) == []


# --- packages ---------------------------------------------------------------------


def test_a_package_loader_sets_the_files_on_the_metadata():
    package = read_package(PACKAGES / "passfail")
    program = load_program(package.root / "submissions/accepted/add.py")
    plain = requests_for(package, program, 1.0, 10_000)[0][1]
    assert "input_file" not in plain and "output_file" not in plain
    meta = dataclasses.replace(package.meta, input_file="input.txt", output_file="output.txt")
    files = requests_for(dataclasses.replace(package, meta=meta), program, 1.0, 10_000)
    assert all(
        (request["input_file"], request["output_file"]) == ("input.txt", "output.txt")
        for _, request in files
    )


def test_output_limit_names_the_output_file():
    from service.jobs.outcome import explain
    from wire import Status

    request = problem(output_file="output.txt")
    step = StepResult(exit_code=0, signal=None, output_exceeded=True)
    limit = request.limits.output_limit
    assert explain(step, Status.OUTPUT_LIMIT, request) == (
        f"output limit exceeded: output.txt holds more than {limit} bytes"
    )
