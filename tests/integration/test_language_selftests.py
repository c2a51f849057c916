"""Every served language's self-tests (``[[tests]]`` of languages/<name>.toml), end to end.

Each runs through the real daemon as a request on the compiler subject; each
language with a ``checker`` also grades a problem as its checker. Marked smoke:
``make gvisor`` runs them again under gVisor (a test with ``gvisor = false``
is skipped there).
"""

from __future__ import annotations

import base64

import pytest

from service.config import Settings
from service.languages import select
from service.testing.client import run_code, send
from wire.subjects import PROBLEMS_SUBJECT

SETTINGS = Settings.from_env()
GVISOR = SETTINGS.tier.user_space_kernel
# What the session's daemon serves: CODE_ENGINE_LANGUAGES, as it reads it.
SERVED = select(SETTINGS.languages)
# Under gVisor (make gvisor) the kinds of self-test whose answer the tier could
# change; the others (stdin, arguments, a spin, a flood) it runs as runc does.
# A syntax error's check is an exchange of its own; an ES module starts a loader thread.
GVISOR_KINDS = {
    "hello",
    "compile error",
    "syntax error",
    "es module",
    "es module syntax error",
    "runtime error",
    "heap bomb",
    "thread bomb",
}
CASES = [
    pytest.param(lang.name, test, id=f"{lang.name}-{test.name.replace(' ', '-')}")
    for lang in SERVED
    if lang.data
    for test in lang.data.tests
]
CHECKERS = [lang.name for lang in SERVED if lang.data and lang.data.checker]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def memory_for(language: str, asked: int | None) -> int:
    """What a self-test asks for: its own memory_mb, raised to the language's minimum here."""
    (lang,) = [lang for lang in SERVED if lang.name == language]
    needed = SETTINGS.tier.min_memory_mb(lang)
    if needed > SETTINGS.memory_mb:
        pytest.skip(f"{language} needs {needed} MB here; this server gives {SETTINGS.memory_mb}")
    return max(asked or SETTINGS.memory_mb, needed)


@pytest.mark.smoke
@pytest.mark.parametrize(("language", "test"), CASES)
def test_self_test(daemon, language, test):
    if GVISOR and (not test.gvisor or test.name not in GVISOR_KINDS):
        pytest.skip("not under gVisor")
    fields = {"args": list(test.args)} if test.args else {}
    fields["memory_mb"] = memory_for(language, test.memory_mb)
    if test.timeout_ms:
        fields["timeout_ms"] = test.timeout_ms
    reply = run_code(daemon.nats_url, language, test.code, stdin=test.stdin, **fields)
    shown = {k: v for k, v in reply.items() if k != "output" or len(str(v)) < 400}
    assert reply["status"] == test.status, shown
    if test.stdout is not None:
        assert reply["output"] == test.stdout, shown
    if test.says:
        assert test.says in reply["error"], shown
    if test.exit_code is not None:
        assert reply["exit_code"] == test.exit_code, shown


@pytest.mark.smoke
@pytest.mark.parametrize("language", CHECKERS)
def test_as_a_checker(daemon, language):
    (lang,) = [lang for lang in SERVED if lang.name == language]
    assert lang.data is not None
    memory_for(language, None)
    request = {
        "language": "python",
        "code": b64("print(input())"),
        "checker": {"language": language, "code": b64(lang.data.checker)},
        "tests": [
            {"id": "right", "stdin": b64("7\n"), "expected_output": b64("7\n")},
            {"id": "wrong", "stdin": b64("7\n"), "expected_output": b64("8\n")},
        ],
    }
    reply = send(daemon.nats_url, request, subject=PROBLEMS_SUBJECT, timeout=120)
    verdicts = [test["status"] for test in reply["tests"]]
    assert verdicts == ["accepted", "wrong_answer"], reply
