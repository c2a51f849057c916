"""The programs every contender runs, and how to build and run them outside the engine.

Compile and run commands come from the engine's own language table
(:mod:`service.languages`), with its fixed ``/work/build`` paths moved into a
scratch directory, so the host and ``docker run`` baselines use exactly the
engine's compiler flags and environment (a fresh Go build cache per job included).
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from dataclasses import dataclass
from typing import Any

import agent
from agent.layout import BUILD_DIR, RUN_DIR
from engine_client import EngineClient
from service.config import Settings
from service.languages import Language, lookup

HOST_PATH = "/usr/local/bin:/usr/bin:/bin"
# The host's Debian interpreter, not whatever python3 comes first on PATH.
HOST_PYTHON = "/usr/bin/python3"
IMAGE_AGENT_DIR = "/opt/code-engine/agent/"  # worker/Dockerfile
HOST_AGENT_DIR = os.path.join(os.path.dirname(os.path.abspath(agent.__file__)), "")
FIB_N = 27
FIB_RESULT = "196418"

_FIB_PY = f"""def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


print(fib({FIB_N}))
"""

_FIB_JS = f"""function fib(n) {{
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}}
console.log(fib({FIB_N}));
"""

_HELLO_GO = """package main

import "fmt"

func main() {
	fmt.Println("hello, world")
}
"""

_FIB_GO = f"""package main

import "fmt"

func fib(n int) int {{
	if n < 2 {{
		return n
	}}
	return fib(n-1) + fib(n-2)
}}

func main() {{
	fmt.Println(fib({FIB_N}))
}}
"""

_HELLO_CPP = """#include <iostream>

int main() {
    std::cout << "hello, world\\n";
    return 0;
}
"""

_FIB_CPP = f"""#include <iostream>

static int fib(int n) {{ return n < 2 ? n : fib(n - 1) + fib(n - 2); }}

int main() {{
    std::cout << fib({FIB_N}) << "\\n";
    return 0;
}}
"""


# A competitive programmer's submission: the whole standard library in one include.
_STDCPP = """#include <bits/stdc++.h>
using namespace std;

int main() {
    vector<int> v(1000);
    iota(v.begin(), v.end(), 0);
    map<int, int> squares;
    for (int x : v) squares[x % 97] += x * x % 1009;
    long long total = 0;
    for (const auto& [key, value] : squares) total += value;
    cout << total << "\\n";
}
"""


@dataclass(frozen=True, slots=True)
class Program:
    language: str  # the engine's language name
    kind: str  # "hello" or "cpu"
    source: str
    expected: str  # stdout, stripped

    @property
    def label(self) -> str:
        return f"{self.language} {self.kind}"

    @property
    def spec(self) -> Language:
        language = lookup(self.language)
        assert language is not None, self.language
        return language

    @property
    def compiled(self) -> bool:
        return self.spec.compiled


PROGRAMS: tuple[Program, ...] = (
    Program("python", "hello", 'print("hello, world")\n', "hello, world"),
    Program("python", "cpu", _FIB_PY, FIB_RESULT),
    Program("javascript", "hello", 'console.log("hello, world");\n', "hello, world"),
    Program("javascript", "cpu", _FIB_JS, FIB_RESULT),
    Program("go", "hello", _HELLO_GO, "hello, world"),
    Program("go", "cpu", _FIB_GO, FIB_RESULT),
    Program("cpp", "hello", _HELLO_CPP, "hello, world"),
    Program("cpp", "cpu", _FIB_CPP, FIB_RESULT),
)


# Not one of the side-by-side programs: benchmarks.warm times it against the host's g++.
BITS_STDCPP = Program("cpp", "bits/stdc++.h", _STDCPP, "508251")


async def timed_run(
    client: EngineClient,
    program: Program,
    source: str | None = None,
    *,
    wait_s: float = 120.0,
    **fields: Any,
) -> tuple[float, dict[str, Any]]:
    """Milliseconds end to end and the reply of ``program`` (or ``source`` in its
    language) sent through ``client``, waiting ``wait_s`` for its reply.

    Raises:
        RuntimeError: the reply is not ``ok`` with the program's expected output.
    """
    started = time.monotonic()
    reply = await client.execute(
        program.language, program.source if source is None else source, timeout=wait_s, **fields
    )
    elapsed = (time.monotonic() - started) * 1000
    if reply["status"] != "ok" or reply["output"].strip() != program.expected:
        raise RuntimeError(f"{program.label}: {reply['status']} {reply['error']}")
    return elapsed, reply


def find(language: str, kind: str) -> Program:
    return next(p for p in PROGRAMS if p.language == language and p.kind == kind)


@dataclass(frozen=True, slots=True)
class Commands:
    """argv and environment of the compile step (if any) and of the run."""

    source_path: str
    compile: list[str] | None
    compile_env: dict[str, str]
    run: list[str]
    run_env: dict[str, str]


def _moved(value: str, directory: str) -> str:
    return value.replace(BUILD_DIR, directory).replace(RUN_DIR, directory)


def commands(program: Program, directory: str, *, host: bool) -> Commands:
    """The engine's commands for ``program`` with its build directory at ``directory``.

    With ``host`` the tools are resolved on the host (the Debian python3 for Python).
    """
    spec = program.spec
    memory_mb = Settings.from_env({}).memory_mb  # the engine's default limit
    run = [_moved(arg, directory) for arg in spec.run_command(memory_mb)]
    compile_argv = (
        [_moved(arg, directory) for arg in spec.compile_argv] if spec.compile_argv else None
    )
    if host:
        # The worker image's Node start-up snapshot is not on the host, whose
        # Node carries its own built in.
        if "--snapshot-blob" in run:
            at = run.index("--snapshot-blob")
            del run[at : at + 2]
        # The image's agent files (Node's node_esm.js) are this checkout's on the host.
        run = [arg.replace(IMAGE_AGENT_DIR, HOST_AGENT_DIR) for arg in run]
        if run[0] == "python3":
            run[0] = HOST_PYTHON
        elif not compile_argv:
            run[0] = shutil.which(run[0], path=HOST_PATH) or run[0]
        if compile_argv:
            compile_argv[0] = shutil.which(compile_argv[0], path=HOST_PATH) or compile_argv[0]
    return Commands(
        source_path=os.path.join(directory, spec.source_file),
        compile=compile_argv,
        compile_env={k: _moved(v, directory) for k, v in spec.compile_environment().items()},
        run=run,
        run_env={k: _moved(v, directory) for k, v in spec.run_environment(memory_mb).items()},
    )


def missing_host_tool(program: Program) -> str | None:
    """The host tool ``program`` needs and the host lacks, or None."""
    cmds = commands(program, "/nonexistent", host=True)
    tool = cmds.compile[0] if cmds.compile else cmds.run[0]
    if os.path.isabs(tool) and os.access(tool, os.X_OK):
        return None
    return os.path.basename(tool)


def shell_script(program: Program, directory: str = BUILD_DIR) -> str:
    """A ``sh`` script that reads the source on stdin, then builds and runs it.

    Used by the ``docker run`` baseline, inside the worker image.
    """
    cmds = commands(program, directory, host=False)

    def with_env(env: dict[str, str], argv: list[str]) -> str:
        pairs = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        return f"env -i {pairs} {shlex.join(argv)}"

    lines = [
        "set -e",
        f"mkdir -p {shlex.quote(directory)}",
        f"cd {shlex.quote(directory)}",
        f"cat > {shlex.quote(cmds.source_path)}",
    ]
    if cmds.compile:
        lines.append(with_env(cmds.compile_env, cmds.compile))
    lines.append("exec " + with_env(cmds.run_env, cmds.run))
    return "\n".join(lines)
