"""Tests a package describes but does not carry, made in the sandbox before judging.

A Polygon package lists generated tests by their generator's command
(``gen 10 3``) and may leave their files out, and its answers are what the
main solution prints. Such a test is a :class:`Missing` until
:func:`complete_tests` makes it: the generator (a program of the package,
compiled with its headers) runs through the engine with the command's
arguments, its stdout the test's input; then the main solution runs on that
input under the problem's limits, its stdout the answer (an interactive
problem's: what the interactor wrote while the main solution talked to it).
Both are ordinary
jobs on the problems subject, so they run sandboxed like any submission, and
an identical generator is compiled once (the compile cache). A generator or
solution that fails, or an output past the engine's output limit, stops the
package with the test named.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import PackageError
from .programs import Program
from .testdata import Test

if TYPE_CHECKING:
    from .judging import Engine
    from .package import Package


class GenerationFailed(PackageError):
    """A generator or the main solution did not produce a test's file."""


@dataclass(frozen=True, slots=True)
class Missing:
    """A test to be made: its input from ``generator`` (None: the test's input is given),
    its answer from ``solution`` (None: the test's answer is given)."""

    test: Test
    command: str
    generator: Program | None
    args: tuple[str, ...]
    solution: Program | None


async def complete_tests(
    engine: Engine, package: Package, wall_max_ms: int, progress: Callable[[str], None]
) -> Package:
    """``package`` with every missing test made; unchanged when none is missing."""
    if not package.missing:
        return package
    made = await asyncio.gather(
        *(_make(engine, package, missing, wall_max_ms) for missing in package.missing)
    )
    progress(f"{len(made)} tests made in the sandbox")
    by_name = {test.name: test for test in made}
    tests = tuple(
        replace(test, input=by_name[test.name].input, answer=by_name[test.name].answer)
        if test.name in by_name
        else test
        for test in package.data.tests
    )
    return replace(package, data=replace(package.data, tests=tests), missing=())


async def _make(engine: Engine, package: Package, missing: Missing, wall_max_ms: int) -> Test:
    test = missing.test
    if missing.generator is not None:
        request = {**missing.generator.wire(), "args": list(missing.args)}
        made = await _output(engine, request, f"{test.name}: its generator {missing.command!r}")
        test = replace(test, input=made)
    if missing.solution is not None:
        time_limit_s = package.meta.time_limit_s or wall_max_ms / 1000
        cpu_ms = max(1, math.ceil(time_limit_s * 1000))
        request = {
            **missing.solution.wire(),
            "stdin": base64.b64encode(test.input).decode(),
            "cpu_time_limit_ms": cpu_ms,
            "timeout_ms": min(wall_max_ms, 2 * cpu_ms + 1000),
        }
        if package.meta.memory_mb:
            request["memory_mb"] = package.meta.memory_mb
        what = f"{test.name}: the main solution {missing.solution.path.name}, for its answer,"
        files = package.meta.file_task_fields()
        if files:
            # A file task: the main solution reads and writes its named files. No
            # answer to compare with: a test it ran to its end (either verdict) will do.
            request.update(files)
            answer = await _one_test_output(
                engine, request, test.name, what, ("accepted", "wrong_answer"), "it wrote"
            )
            test = replace(test, answer=answer)
        elif package.meta.interactive and package.output_validator is not None:
            # The answer is what the interactor wrote while the main solution talked to it.
            request["interactor"] = {**package.output_validator.wire(), "convention": "testlib"}
            answer = await _one_test_output(
                engine, request, test.name, what, ("accepted",), "the interactor wrote"
            )
            test = replace(test, answer=answer)
        else:
            test = replace(test, answer=await _output(engine, request, what))
    return test


async def _one_test_output(
    engine: Engine,
    request: dict[str, Any],
    test_id: str,
    what: str,
    ended_well: tuple[str, ...],
    writer: str,
) -> bytes:
    """The output of ``request`` sent as a problems request of one test (its ``stdin``),
    once that test's verdict is one of ``ended_well``; ``writer`` names who wrote it."""
    fields = dict(request)
    one_test = [{"id": test_id, "stdin": fields.pop("stdin")}]
    reply = await engine.send({**fields, "tests": one_test})
    tests = reply.get("tests") or []
    if len(tests) != 1 or tests[0].get("status") not in ended_well:
        status = tests[0].get("status") if tests else reply.get("status")
        found = tests[0] if tests else reply
        reason = (found.get("checker_output") or found.get("error") or "").strip()[:300]
        raise GenerationFailed(f"{what} ended with {status}: {reason}")
    if tests[0].get("truncated"):
        raise GenerationFailed(f"{what}: {writer} more than the engine keeps")
    return str(tests[0].get("output", "")).encode()


async def _output(engine: Engine, request: dict[str, Any], what: str) -> bytes:
    reply = await engine.send(request)
    status = reply.get("status")
    if status != "ok":
        reason = (reply.get("error") or reply.get("compile_output") or "").strip()[:300]
        raise GenerationFailed(f"{what} ended with {status}: {reason}")
    if reply.get("truncated"):
        raise GenerationFailed(f"{what} wrote more than the engine's output limit")
    return str(reply.get("output", "")).encode()
