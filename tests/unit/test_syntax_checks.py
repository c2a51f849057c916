"""An interpreted program that does not parse: its check, after its run, on both flows."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from agent.protocol import Job, Result, Run
from service import language_files
from service.config import Settings
from service.jobs import Executor, Judge
from service.language_files import LanguageFileError
from service.languages import lookup
from service.requests import limits_for, parse_request
from service.sandbox.job_messages import check_step
from service.sandbox.lender import Lender
from service.testing import FakeAgent, start_fake_pool, step_result
from wire import Kind, Status

SETTINGS = Settings.from_env({}, instance_id="unit", workers=1, concurrency=2)
SYNTAX_ERROR = b"  File \"/work/build/main.py\", line 1\nSyntaxError: '(' was never closed\n"
CHECK_SAYS = b"SyntaxError: '(' was never closed (the check)\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def compiler_request(language: str = "python", files: tuple[str, ...] = ()):
    body = {
        "language": language,
        "code": b64(b"print(1"),
        "files": [{"name": name, "content": b64(b"x = 1\n")} for name in files],
    }
    return parse_request(
        json.dumps(body).encode(), Kind.COMPILER, limits_for(Kind.COMPILER, SETTINGS)
    )


def problem_request(language: str = "python", tests: int = 3):
    body = {
        "language": language,
        "code": b64(b"print(1"),
        "tests": [{"stdin": b64(b"1"), "expected_output": b64(b"1")} for _ in range(tests)],
    }
    payload = json.dumps(body).encode()
    return parse_request(payload, Kind.PROBLEMS, limits_for(Kind.PROBLEMS, SETTINGS))


def is_check(message: Job | Run) -> bool:
    return bool(message.runs) and "-c" in message.runs[0].argv


class Interpreter:
    """Runs fail as ``run`` says; the check fails when ``parses`` is False."""

    def __init__(self, *, run_stderr: bytes, run_exit: int = 1, parses: bool) -> None:
        self.run_stderr, self.run_exit, self.parses = run_stderr, run_exit, parses
        self.checks = 0
        self.runs = 0

    async def __call__(self, message: Job | Run) -> Result:
        if is_check(message):
            self.checks += 1
            check = (
                step_result(exit_code=0)
                if self.parses
                else step_result(exit_code=1, stderr=CHECK_SAYS)
            )
            return Result(id=message.id, runs=[check])
        self.runs += len(message.runs)
        run = step_result(exit_code=self.run_exit, stderr=self.run_stderr)
        return Result(id=message.id, runs=[run for _ in message.runs])


def test_a_language_file_names_its_check_and_when():
    python = lookup("python")
    assert python is not None and python.check_argv is not None
    assert python.check_argv[-1] == "/work/build/main.py"
    said = step_result(exit_code=1, stderr=SYNTAX_ERROR)
    assert python.checked_after(said)
    assert not python.checked_after(step_result(exit_code=1, stderr=b"ZeroDivisionError\n"))
    assert not python.checked_after(step_result(exit_code=0))
    # A run stopped by a limit is never checked, whatever it said.
    assert not python.checked_after(
        step_result(exit_code=1, stderr=SYNTAX_ERROR, output_exceeded=True)
    )
    cpp = lookup("cpp")
    assert cpp is not None and not cpp.checked_after(said)


def test_the_check_runs_as_the_job_with_the_jobs_limits():
    request = compiler_request("javascript")
    step = check_step(request, SETTINGS)
    assert step is not None
    assert step.argv[0] == "node" and step.argv[1].startswith("--max-old-space-size=")
    assert step.argv[-1] == "/work/build/main.js"
    assert step.limits == request.limits.step()
    assert step.stdin == b""
    assert check_step(compiler_request("cpp"), SETTINGS) is None


def test_the_modules_among_the_extra_files_are_checked_after_the_main_file():
    request = compiler_request("python", ("lib/b.py", "data.txt", "a.py"))
    step = check_step(request, SETTINGS)
    assert step is not None
    assert step.argv[-3:] == ["/work/build/main.py", "/work/build/lib/b.py", "/work/build/a.py"]
    # Each language names its own modules' endings.
    php = check_step(compiler_request("php", ("lib.inc", "helper.py")), SETTINGS)
    assert php is not None and php.argv[-2:] == ["/work/build/main.php", "/work/build/lib.inc"]


def test_a_check_needs_an_interpreted_language_and_exit_codes(tmp_path: Path):
    base = """name = "awk"
display_name = "awk"
aliases = ["awk"]
extensions = ["awk"]
main_file = "main.awk"
version = ["awk", "--version"]
[run]
argv = ["awk", "-f", "{build}/main.awk"]
"""
    path = tmp_path / "awk.toml"
    path.write_text(base + '[check]\nargv = ["awk", "-f", "{build}/main.awk"]\nafter = {}\n')
    with pytest.raises(LanguageFileError, match=r"check\.after"):
        language_files.read(path)
    path.write_text(base + '[check]\nargv = ["awk", "{nope}"]\nafter = { exit_codes = [2] }\n')
    with pytest.raises(LanguageFileError, match=r"check\.argv"):
        language_files.read(path)
    path.write_text(base + '[check]\nargv = ["awk"]\nafter = { exit_codes = [2] }\n')
    assert language_files.read(path).check is not None


async def test_a_run_that_did_not_parse_is_a_compile_error(nursery, autojump_clock):
    interpreter = Interpreter(run_stderr=SYNTAX_ERROR, parses=False)
    agent = FakeAgent(interpreter)
    _, docker, pool = await start_fake_pool(nursery, agent, SETTINGS)
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(compiler_request())
    assert reply.status is Status.COMPILE_ERROR
    assert reply.error == CHECK_SAYS.decode().strip()  # the check's words, not the run's
    assert interpreter.checks == 1
    check = agent.received[-1]
    assert isinstance(check, Job) and check.compile is None and check.finish
    assert "main.py" in check.files


async def test_a_program_that_says_syntax_error_and_parses_stays_a_runtime_error(
    nursery, autojump_clock
):
    interpreter = Interpreter(run_stderr=b"SyntaxError: made up\n", run_exit=1, parses=True)
    _, docker, pool = await start_fake_pool(nursery, FakeAgent(interpreter), SETTINGS)
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(compiler_request())
    assert reply.status is Status.RUNTIME_ERROR
    assert reply.error == "SyntaxError: made up\n"
    assert interpreter.checks == 1


async def test_an_ordinary_failure_pays_no_check(nursery, autojump_clock):
    interpreter = Interpreter(run_stderr=b"ZeroDivisionError: division by zero\n", parses=False)
    _, docker, pool = await start_fake_pool(nursery, FakeAgent(interpreter), SETTINGS)
    reply = await Executor(Lender(docker, pool, SETTINGS)).execute(compiler_request())
    assert reply.status is Status.RUNTIME_ERROR
    assert interpreter.checks == 0


async def test_a_problem_that_does_not_parse_is_one_compile_error(nursery, autojump_clock):
    interpreter = Interpreter(run_stderr=SYNTAX_ERROR, parses=False)
    agent = FakeAgent(interpreter)
    _, docker, pool = await start_fake_pool(nursery, agent, SETTINGS)
    reply = await Judge(Lender(docker, pool, SETTINGS)).judge(
        request := problem_request(),
        request.problem,  # type: ignore[arg-type]
    )
    assert reply.status is Status.COMPILE_ERROR
    assert reply.tests == []
    assert interpreter.runs == 1 and interpreter.checks == 1
    check = [m for m in agent.received if isinstance(m, Run) and is_check(m)]
    assert len(check) == 1 and not check[0].finish  # the build stays for the check


async def test_a_problem_that_parses_is_checked_once_and_graded(nursery, autojump_clock):
    interpreter = Interpreter(run_stderr=b"SyntaxError: made up\n", parses=True)
    _, docker, pool = await start_fake_pool(nursery, FakeAgent(interpreter), SETTINGS)
    reply = await Judge(Lender(docker, pool, SETTINGS)).judge(
        request := problem_request(),
        request.problem,  # type: ignore[arg-type]
    )
    assert reply.status is Status.RUNTIME_ERROR
    assert [test.status for test in reply.tests] == [Status.RUNTIME_ERROR] * 3
    assert interpreter.runs == 3 and interpreter.checks == 1
