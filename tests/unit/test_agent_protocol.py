"""The agent protocol: every message survives a round trip, and malformed lines are refused."""

from __future__ import annotations

import base64
import json

import pytest

from agent.protocol import (
    PROGRAM_LIMIT,
    PROTOCOL_VERSION,
    AgentMessage,
    Cleaned,
    Cleanup,
    Error,
    Finish,
    Finished,
    HostMessage,
    Job,
    MessageBuffer,
    Ping,
    Pong,
    ProtocolError,
    Ready,
    Result,
    Run,
    Shed,
    Step,
    StepLimits,
    StepResult,
    agent_message_from,
    attach,
    attachment_size,
    decode_agent_message,
    decode_host_message,
    encode,
    host_message_from,
    parse_line,
)

COMPILE = Step(
    ["g++", "-o", "main", "main.cpp"], env={"PATH": "/usr/bin"}, limits=StepLimits(wall_ms=20_000)
)
RUN = Step(
    ["./main", "ünï"],
    env={"LANG": "C.UTF-8"},
    limits=StepLimits(wall_ms=1500, cpu_ms=700, output_bytes=10, file_size_bytes=1 << 20),
    stdin=b"\x00\xffinput\n",
)
FULL = StepResult(
    exit_code=None,
    signal=9,
    stdout=b"\x00\xff out",
    stderr=b"err",
    stdout_truncated=True,
    stderr_truncated=True,
    timed_out=True,
    output_exceeded=True,
    oom_killed=True,
    wall_ms=1.5,
    cpu_ms=0.25,
    memory_kb=12_000,
)
BARE = StepResult(exit_code=0, signal=None)

HOST_MESSAGES = [
    Ping(),
    Job("j-1", {}),
    Job(
        "j-2",
        {"main.cpp": b"int main() {}", "data.bin": bytes(range(256))},
        compile=COMPILE,
        runs=[RUN, Step(["true"])],
        finish=False,
        early_result=True,
    ),
    Job("j-3", {"main.go": b"package main"}, compile=COMPILE, collect="main"),
    Job("j-4", {"main.go": b"package main"}, runs=[RUN], collect="main", program=b"\x7fELF..."),
    Run("r-1", []),
    Run("r-2", [RUN], finish=False, early_result=True),
    Finish("f-1"),
]
AGENT_MESSAGES = [
    Ready(PROTOCOL_VERSION),
    Pong(),
    Result("j-1"),
    Result("j-2", FULL, [BARE, FULL], Cleanup.DIRTY, "internal: oops"),
    Result("j-3", None, [BARE], Cleanup.OWED),
    Result("j-4", BARE, [], Cleanup.CLEAN, "bad request: bad file name: '../x'"),
    Result("j-5", BARE, [BARE], Cleanup.OWED, program=bytes(range(256))),
    Cleaned("j-3", True),
    Cleaned("j-3", False),
    Cleaned("j-5", True, program=b"\x7fELF\x02\x01"),
    Finished("f-1", True),
    Finished("f-1", False),
    Error("unknown type: 'nope'", "x"),
    Error("bad json: ..."),
]


def _one_line(message: HostMessage | AgentMessage) -> bytes:
    """``message``'s encoding, which must be one line and then its program's bytes."""
    data = encode(message)
    program: bytes | None = getattr(message, "program", None)
    line = data if program is None else data[: len(data) - len(program)]
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert data == line + (program or b"")
    assert json.loads(line).get("program") == (None if program is None else len(program))
    return line


@pytest.mark.parametrize("message", HOST_MESSAGES, ids=repr)
def test_host_messages_round_trip(message):
    line = _one_line(message)
    assert decode_host_message(encode(message)) == message
    if getattr(message, "program", None) is None:
        assert decode_host_message(line.decode()) == message
        assert host_message_from(json.loads(line)) == message


@pytest.mark.parametrize("message", AGENT_MESSAGES, ids=repr)
def test_agent_messages_round_trip(message):
    line = _one_line(message)
    assert decode_agent_message(encode(message)) == message
    if getattr(message, "program", None) is None:
        assert agent_message_from(json.loads(line)) == message


def test_a_program_is_read_as_its_line_says():
    program = bytes(range(256)) * 8 + b"\n\n"  # raw bytes: newlines included
    line = _one_line(Cleaned("j", True, program))
    parsed = parse_line(line)
    assert attachment_size(parsed) == len(program)
    attach(parsed, program)
    assert agent_message_from(parsed) == Cleaned("j", True, program)
    # Short by a byte (the stream ended), or the bytes never read at all.
    with pytest.raises(ProtocolError, match=r"program: 2050 bytes announced, 2049 read"):
        decode_agent_message(line + program[:-1])
    with pytest.raises(ProtocolError, match="the bytes after the line were not read"):
        agent_message_from(json.loads(line))
    # What follows a line without a program is another line, never part of it.
    with pytest.raises(ProtocolError, match="more than one line"):
        decode_agent_message(encode(Pong()) + encode(Pong()))
    for size in (-1, "12", True, 1.5, PROGRAM_LIMIT + 1):
        with pytest.raises(ProtocolError, match="program must be a size"):
            attachment_size({"type": "cleaned", "program": size})


def test_wire_shapes():
    assert json.loads(encode(Ready(PROTOCOL_VERSION))) == {"type": "ready", "version": 11}
    assert json.loads(encode(Result("j", cleanup=Cleanup.OWED))) == {
        "type": "result",
        "id": "j",
        "compile": None,
        "runs": [],
        "cleanup": "owed",
        "error": None,
        "tool_compile": None,
        "checks": [],
        "program": None,
    }
    assert json.loads(encode(Error("no"))) == {"type": "error", "message": "no"}
    run = json.loads(encode(Run("r", [Step(["true"], stdin=b"hi")])))["runs"][0]
    assert run["stdin"] == base64.b64encode(b"hi").decode()
    assert "stdin" not in json.loads(encode(Run("r", [Step(["true"])])))["runs"][0]
    cpu_limited = Step(["true"], limits=StepLimits(cpu_ms=250))
    limited = json.loads(encode(Run("r", [cpu_limited])))["runs"][0]
    assert limited["limits"]["cpu_ms"] == 250
    assert Step.from_wire(limited).limits.cpu_ms == 250
    # An absent limit takes its default: a step without "limits" has none of its own CPU limit.
    assert Step.from_wire({"argv": ["true"]}).limits == StepLimits()
    over = StepResult(None, 9, cpu_exceeded=True, cpu_ms=1003.5)
    assert StepResult.from_wire(json.loads(json.dumps(over.to_wire()))) == over
    assert over.failed


def test_defaults_fill_what_the_host_leaves_out():
    job = decode_host_message(b'{"type": "job", "id": "j"}')
    assert job == Job("j", {}, None, [], finish=True, early_result=False)
    step = Step.from_wire({"argv": ["true"]})
    assert step == Step(["true"], {}, StepLimits(10_000, None, 64 * 1024, 64 * 1024 * 1024), b"")


def test_a_kept_program_takes_the_place_of_a_compile():
    program = b"\x7fELF"
    with pytest.raises(ProtocolError, match="a program needs its name in collect"):
        host_message_from({"type": "job", "id": "j", "program": program})
    with pytest.raises(ProtocolError, match="and no compile step"):
        host_message_from(
            {
                "type": "job",
                "id": "j",
                "program": program,
                "collect": "main",
                "compile": {"argv": ["cc"]},
            }
        )
    # Base64 in the line, as the protocol once had it, is not a program.
    with pytest.raises(ProtocolError, match="the bytes after the line were not read"):
        host_message_from({"type": "job", "id": "j", "program": "f0VMRg==", "collect": "main"})


def test_a_compile_step_reads_no_stdin():
    stdin = base64.b64encode(b"hi").decode()
    job = host_message_from(
        {"type": "job", "id": "j", "compile": {"argv": ["cc"], "stdin": stdin}, "runs": []}
    )
    assert isinstance(job, Job) and job.compile == Step(["cc"])
    # Not even decoded: a compile's stdin cannot make a job malformed.
    host_message_from({"type": "job", "id": "j", "compile": {"argv": ["cc"], "stdin": "!!"}})


def test_result_helpers():
    assert Result("j").compiled and Result("j", BARE).compiled
    assert not Result("j", FULL).compiled
    assert FULL.truncated and not BARE.truncated
    assert FULL.signal_name == "SIGKILL" and BARE.signal_name is None
    assert StepResult(exit_code=None, signal=99).signal_name == "SIG99"


def reason(line: bytes | str, *, agent_side: bool = False) -> ProtocolError:
    decode = decode_agent_message if agent_side else decode_host_message
    with pytest.raises(ProtocolError) as info:
        decode(line)
    return info.value


def job(**fields: object) -> str:
    return json.dumps({"type": "job", "id": "j", **fields})


def limited(**limits: object) -> str:
    """A job whose one run has ``limits``."""
    return job(runs=[{"argv": ["x"], "limits": limits}])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "bad json: "),
        (b"", "bad json: "),
        (b"\xff\xfe{}", "bad json: "),
        (b"[" * 100_000, "bad json: "),
        (b'{"type": "job", "id": "j"', "bad json: "),
    ],
)
def test_bad_json(line, message):
    assert str(reason(line)).startswith(message)


@pytest.mark.parametrize("line", [b"[1]", b'"job"', b"3", b"null", b"true"])
def test_a_message_must_be_an_object(line):
    error = reason(line)
    assert str(error) == "a message must be an object"
    assert (error.kind, error.id) == (None, None)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"id": "x"}', "unknown type: None"),
        (b'{"type": "nope", "id": "x"}', "unknown type: 'nope'"),
        (b'{"type": ["job"], "id": "x"}', "unknown type: ['job']"),
        (b'{"type": "result", "id": "x"}', "unknown type: 'result'"),  # the agent's message
    ],
)
def test_unknown_types(line, message):
    error = reason(line)
    assert str(error) == message
    assert (error.kind, error.id) == (None, "x")


def test_the_host_refuses_host_messages():
    error = reason(encode(Ping()), agent_side=True)
    assert str(error) == "unknown type: 'ping'"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (job(files={"main.py": "not base64!"}), "file main.py is not valid base64"),
        (job(files={"main.py": 7}), "file main.py must be a base64 string"),
        (job(files=["main.py"]), "files must be an object"),
        (job(runs={"argv": ["true"]}), "runs must be a list"),
        (job(runs=["true"]), "a step must be an object"),
        (job(runs=[{"argv": []}]), "argv must be a non-empty list of strings without NUL"),
        (job(runs=[{"argv": ["a", 1]}]), "argv must be a non-empty list of strings without NUL"),
        (job(runs=[{"argv": ["x"], "env": ["A=B"]}]), "env must be an object"),
        (job(runs=[{"argv": ["x"], "env": {"": "v"}}]), "bad environment variable name: ''"),
        (
            job(runs=[{"argv": ["x"], "env": {"A": None}}]),
            "environment value of A must be a string without NUL",
        ),
        (job(runs=[{"argv": ["x"], "limits": 5}]), "limits must be an object"),
        (limited(wall_ms="5"), "limits.wall_ms must be an integer >= 1"),
        (limited(wall_ms=1.5), "limits.wall_ms must be an integer >= 1"),
        (limited(wall_ms=None), "limits.wall_ms must be an integer >= 1"),
        (limited(cpu_ms=0), "limits.cpu_ms must be an integer >= 1 or null"),
        (limited(output_bytes=-1), "limits.output_bytes must be an integer >= 0"),
        (limited(file_size_bytes=0), "limits.file_size_bytes must be an integer >= 1"),
        (limited(walltime=1), "unknown limit 'walltime'"),
        (job(runs=[{"argv": ["x"], "stdin": "a"}]), "stdin is not valid base64"),
        (job(runs=[{"argv": ["x"], "stdin": 5}]), "stdin must be a base64 string"),
        (job(compile="g++"), "a step must be an object"),
        (job(finish=1), "finish must be a boolean"),
        (job(early_result=None), "early_result must be a boolean"),
    ],
)
def test_malformed_jobs_name_what_is_wrong(line, message):
    error = reason(line)
    assert str(error) == message
    assert (error.kind, error.id) == ("job", "j")  # enough for a result, not an error


@pytest.mark.parametrize(
    ("line", "message", "kind"),
    [
        (b'{"type": "job", "id": 7}', "id must be a string", "job"),
        (b'{"type": "run", "runs": []}', "id must be a string", "run"),
        (b'{"type": "finish", "id": null}', "id must be a string", "finish"),
    ],
)
def test_messages_need_a_string_id(line, message, kind):
    error = reason(line)
    assert str(error) == message
    assert (error.kind, error.id) == (kind, None)


def test_malformed_runs_carry_their_id():
    error = reason(b'{"type": "run", "id": "r", "runs": [{"argv": "true"}]}')
    assert str(error).startswith("argv must be")
    assert (error.kind, error.id) == ("run", "r")


@pytest.mark.parametrize(
    ("message", "wrong"),
    [
        ({"type": "ready", "version": "2"}, "version must be an integer >= 0"),
        ({"type": "result", "id": "j", "cleanup": "maybe"}, "unknown cleanup 'maybe'"),
        ({"type": "result", "id": "j", "cleanup": None}, "unknown cleanup None"),
        ({"type": "result", "id": "j", "cleanup": "clean", "runs": {}}, "runs must be a list"),
        (
            {"type": "result", "id": "j", "cleanup": "clean", "compile": {"stdout": "!"}},
            "stdout is not valid base64",
        ),
        (
            {"type": "result", "id": "j", "cleanup": "clean", "runs": [{"exit_code": "0"}]},
            "exit_code must be an integer or null",
        ),
        (
            {"type": "result", "id": "j", "cleanup": "clean", "runs": [{"wall_ms": True}]},
            "wall_ms must be a number",
        ),
        (
            {"type": "result", "id": "j", "cleanup": "clean", "error": 5},
            "error must be a string or null",
        ),
        ({"type": "cleaned", "id": "j", "clean": None}, "clean must be a boolean"),
        ({"type": "finished", "id": "j", "clean": "yes"}, "clean must be a boolean"),
        ({"type": "error"}, "message must be a string"),
        ({"type": "error", "message": "m", "id": 3}, "id must be a string or null"),
    ],
)
def test_malformed_agent_messages_name_what_is_wrong(message, wrong):
    assert str(reason(json.dumps(message), agent_side=True)) == wrong


def test_a_message_buffer_gives_whole_messages_however_the_bytes_arrive():
    program = b"\n\n" + bytes(range(256))  # raw bytes: its newlines are no lines
    messages = [Pong(), Cleaned("j", True, program), Cleaned("k", False), Error("no")]
    data = b"\n".join(encode(message) for message in messages)  # blank lines between
    for piece in (1, 7, len(data)):
        buffer, found = MessageBuffer(), []
        for start in range(0, len(data), piece):
            buffer.feed(data[start : start + piece])
            while (parsed := buffer.next()) is not None:
                found.append(agent_message_from(parsed))
        assert found == messages and len(buffer) == 0
    with pytest.raises(ProtocolError, match="program must be a size"):
        buffer.feed(b'{"type": "cleaned", "id": "j", "clean": true, "program": -1}\n')
        buffer.next()


def test_shed_is_a_host_message_the_agent_answers_with_pong() -> None:
    assert encode(Shed()) == b'{"type":"shed"}\n'
    assert isinstance(decode_host_message(b'{"type":"shed"}\n'), Shed)
