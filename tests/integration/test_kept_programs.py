"""The compile cache against the real sandbox: a kept program runs, and no job can change it."""

from __future__ import annotations

import base64
import uuid

import pytest

from service.testing.client import run_code
from service.testing.harness import Daemon, next_snapshot, wait_for_stats


def unique(code: str, comment: str = "//") -> str:
    # Every test its own source: the session's daemon keeps what earlier tests compiled.
    return f"{code}\n{comment} {uuid.uuid4()}\n"


def kept_programs(daemon: Daemon) -> int:
    return int(next_snapshot(daemon)["compile_cache"]["entries"])


def wait_kept(daemon: Daemon, before: int) -> None:
    """The program comes back with the cleanup after the reply: wait until it is kept."""
    wait_for_stats(
        daemon, lambda s: s["compile_cache"]["entries"] > before, what="the program kept"
    )


PROBLEMS = "problems.execute.request"
CPP = '#include <cstdio>\nint main() { std::puts("kept"); }'
GO = 'package main\nimport "fmt"\nfunc main() { fmt.Println("kept") }'


@pytest.mark.smoke
@pytest.mark.parametrize(("language", "code"), [("cpp", CPP), ("go", GO)])
def test_an_identical_request_runs_the_kept_program(daemon, language, code):
    source = unique(code)
    before = kept_programs(daemon)
    first = run_code(daemon.nats_url, language, source)
    assert first["status"] == "ok", first
    assert first["compile_time_ms"] > 0
    wait_kept(daemon, before)
    second = run_code(daemon.nats_url, language, source, stdin="ignored")
    assert second["status"] == "ok", second
    assert second["output"] == "kept\n"
    assert second["compile_time_ms"] == 0
    # One character more is another program: compiled again.
    third = run_code(daemon.nats_url, language, source + " ")
    assert third["status"] == "ok" and third["compile_time_ms"] > 0, third


# The run tries to replace the program it runs from, and to plant another next to it.
TAMPER = r"""
#include <cstdio>
#include <cstring>
#include <cerrno>
int main() {
    const char *paths[] = {"/work/build/main", "/work/build/main.new", "/work/build"};
    for (const char *p : paths) {
        FILE *f = fopen(p, "wb");
        std::printf("%s %s\n", p, f ? "written" : std::strerror(errno));
        if (f) { std::fputs("#!/bin/sh\necho poisoned\n", f); std::fclose(f); }
    }
}
"""


def test_a_run_cannot_change_the_program_an_identical_request_runs(daemon):
    source = unique(TAMPER)
    expected = (
        "/work/build/main Permission denied\n"
        "/work/build/main.new Permission denied\n"
        "/work/build Is a directory\n"
    )
    before = kept_programs(daemon)
    first = run_code(daemon.nats_url, "cpp", source)
    assert first["status"] == "ok" and first["output"] == expected, first
    wait_kept(daemon, before)
    second = run_code(daemon.nats_url, "cpp", source)
    assert second["compile_time_ms"] == 0, second
    assert second["output"] == expected, second


def test_the_snapshot_counts_hits_and_misses(daemon):
    source = unique(CPP)
    before = kept_programs(daemon)
    run_code(daemon.nats_url, "cpp", source)
    wait_kept(daemon, before)
    run_code(daemon.nats_url, "cpp", source)
    snapshot = wait_for_stats(
        daemon, lambda s: s["compile_cache"]["hits"] >= 1, what="a compile cache hit"
    )
    cache = snapshot["compile_cache"]
    assert cache["misses"] >= 1 and cache["entries"] >= 1
    assert 0 < cache["bytes"] <= cache["capacity_bytes"] == 128 << 20


@pytest.mark.smoke
def test_a_rejudge_of_the_same_submission_compiles_nothing(daemon):
    source = unique(CPP)
    kept = base64.b64encode(b"kept\n").decode()
    tests = [{"stdin": "", "expected_output": kept} for _ in range(3)]
    before = kept_programs(daemon)
    first = run_code(
        daemon.nats_url, "cpp", source, tests=tests, subject="problems.execute.request"
    )
    assert first["status"] == "accepted" and first["compile_time_ms"] > 0, first
    wait_kept(daemon, before)
    again = run_code(
        daemon.nats_url, "cpp", source, tests=tests, subject="problems.execute.request"
    )
    assert again["status"] == "accepted" and again["compile_time_ms"] == 0, again
