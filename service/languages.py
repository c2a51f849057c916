"""The language table: aliases, the file a job's source goes in, and how to build and run it.

The agent knows nothing of languages: the host turns a request into argv, env and
limits here. Paths are the agent's fixed layout (sources and artifacts in
``/work/build``, locked read-only before any run; runs happen in a fresh
``/work/run``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agent.layout import BUILD_DIR, RUN_DIR
from agent.protocol import StepResult

# C++: the flags that decide what a precompiled header is valid for. The worker
# image precompiles <bits/stdc++.h> with exactly these (service/sandbox/image.py
# passes them to worker/Dockerfile) into PCH_DIR, where g++ finds the .gch
# before the header itself and uses it when the flags match.
CPP_FLAGS = ("-std=c++17", "-O2")
PCH_DIR = "/opt/code-engine/pch"
# Go: the go command's configuration directory in the worker image, root's and
# read-only, with telemetry off in it (Go 1.23 would write counter files under
# $HOME/.config, the build dir, at every compile).
GO_CONFIG_DIR = "/opt/code-engine/go-config"

_BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": RUN_DIR,
    "TMPDIR": "/tmp",
}


# How much of the job's memory limit is left to what Node keeps outside its
# old generation (the young generation's semi-spaces, code, the binary itself).
NODE_NON_HEAP_MB = 128
# Debian's Node is built without its start-up snapshot, so it bootstraps its
# internals from source at every start (80-90 ms here). The worker image holds a
# snapshot of a freshly bootstrapped Node (`node --build-snapshot` of an empty
# script: nothing of any program in it) for the heap of each of these memory
# limits, built with exactly that heap flag: V8 refuses a snapshot made under
# another heap configuration. A run at one of them starts from it (about 50 ms).
NODE_SNAPSHOT_MEMORY_MB = (128, 256, 400, 512, 1024, 2048)
NODE_SNAPSHOT_DIR = "/opt/code-engine/node-snapshots"
DYING_WORDS = 4096  # bytes at each end of stderr where a runtime's last words are looked for


@dataclass(frozen=True, slots=True)
class Memory:
    """How a language's runtime learns the job's memory limit, and how it says it ran out.

    A runtime with a heap limit of its own (V8, Go's GC) gets it sized to the
    job's limit, so that a program within the limit may use it and one beyond
    it dies the runtime's way before the kernel's OOM killer thrashes. Its
    report of running out (``out_of_memory``) is a fact like an OOM kill.
    """

    argv: Callable[[int], tuple[str, ...]] = lambda memory_mb: ()  # after the interpreter
    env: Callable[[int], dict[str, str]] = lambda memory_mb: {}
    out_of_memory: Callable[[StepResult], bool] = lambda step: False


def _stderr_ends(step: StepResult) -> bytes:
    # Go and V8 say it first and dump stacks after; Python and libstdc++ say it last.
    stderr = step.stderr
    if len(stderr) <= 2 * DYING_WORDS:
        return stderr
    return stderr[:DYING_WORDS] + b"\n" + stderr[-DYING_WORDS:]


def _python_out_of_memory(step: StepResult) -> bool:
    # An uncaught MemoryError: the traceback's last line names it, exit status 1.
    last = step.stderr[-DYING_WORDS:].rstrip().rsplit(b"\n", 1)[-1]
    return step.exit_code == 1 and (last == b"MemoryError" or last.startswith(b"MemoryError:"))


def node_heap_mb(memory_mb: int) -> int:
    """Node's old-generation limit under a memory limit of ``memory_mb``."""
    return max(memory_mb // 2, memory_mb - NODE_NON_HEAP_MB)


def node_snapshot(heap_mb: int) -> str:
    """Where the worker image keeps the start-up snapshot made for ``heap_mb``."""
    return f"{NODE_SNAPSHOT_DIR}/heap-{heap_mb}.blob"


def _node_heap(memory_mb: int) -> tuple[str, ...]:
    heap = node_heap_mb(memory_mb)
    flags: tuple[str, ...] = (f"--max-old-space-size={heap}",)
    if memory_mb in NODE_SNAPSHOT_MEMORY_MB:
        flags += ("--snapshot-blob", node_snapshot(heap))
    return flags


def _node_out_of_memory(step: StepResult) -> bool:
    # V8 at its heap limit prints a FATAL ERROR and aborts.
    died = step.signal in (signal.SIGABRT, signal.SIGTRAP) or step.exit_code == 134
    return died and b"JavaScript heap out of memory" in _stderr_ends(step)


def _go_heap(memory_mb: int) -> dict[str, str]:
    # A soft limit: the GC works harder near it instead of doubling the heap past it.
    return {"GOMEMLIMIT": f"{memory_mb * 9 // 10}MiB"}


def _go_out_of_memory(step: StepResult) -> bool:
    # "runtime: out of memory" when the kernel will not back the heap; plain "out
    # of memory" when the address space for it is refused (gVisor's RLIMIT_AS).
    ends = _stderr_ends(step)
    said = b"fatal error: runtime: out of memory" in ends or b"fatal error: out of memory" in ends
    return step.exit_code == 2 and said


def _cpp_out_of_memory(step: StepResult) -> bool:
    # An uncaught std::bad_alloc: libstdc++'s terminate handler names it, then aborts.
    return step.signal == signal.SIGABRT and b"std::bad_alloc" in _stderr_ends(step)


@dataclass(frozen=True, slots=True)
class Language:
    name: str
    aliases: tuple[str, ...]
    source_file: str
    run_argv: tuple[str, ...]
    compile_argv: tuple[str, ...] | None = None
    compile_env: dict[str, str] = field(default_factory=dict)
    run_env: dict[str, str] = field(default_factory=dict)
    memory: Memory = Memory()
    # Extra files (a request's ``files``) with these endings are compiled too.
    source_suffixes: tuple[str, ...] = ()
    not_source_suffixes: tuple[str, ...] = ()
    build_dir: str = BUILD_DIR
    # What a compile leaves to run, by its name in the build dir (compiled languages).
    program_file: str = "main"
    # The agent's launcher that starts this language's runs ahead (agent/launchers).
    warm_launcher: str | None = None
    # Its warm processes are forked from one started interpreter (agent/forkserver.py).
    warm_forks: bool = False
    # The least memory its compile step gets, whatever the request's memory_mb
    # (CODE_ENGINE_COMPILE_MEMORY_MB, when set, instead): compile_memory_mb.
    compile_memory_floor_mb: int = 0
    # Its compile may run code of the job's own (a build script, cgo's linker
    # flags, a macro that runs programs): the compiler is then not the only
    # writer of the build, and the compile cache keeps nothing of it
    # (service/sandbox/compile_cache.py). False for every language here.
    compile_runs_job_code: bool = False
    # The least memory_mb a request in this language may ask for, on runc and
    # under gVisor: what its hello world needs beside the agent (~12 MB) in the
    # container's one memory limit (under gVisor the compile too: a gVisor
    # container's limit cannot be raised for it). Measured through the engine:
    # Python ran at 24 MB (runc) and 48 (gVisor, not 32); Node.js has a resident size
    # of 49 MB on runc (its binary's pages count where this cgroup touched them
    # first: 32 MB failed now and then) and ran from 128 MB under gVisor; Go and
    # C++ programs run in a few MB, their compiles at gVisor need 96 and 192.
    min_memory_mb: int = 32
    min_memory_mb_gvisor: int = 64

    @property
    def compiled(self) -> bool:
        return self.compile_argv is not None

    def compile_command(self, extra_files: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        """The compile argv for the main file and ``extra_files`` (names in the build dir)."""
        if self.compile_argv is None:
            return None
        sources = [
            f"{self.build_dir}/{name}"
            for name in extra_files
            if name.endswith(self.source_suffixes) and not name.endswith(self.not_source_suffixes)
        ]
        return (*self.compile_argv, *sources) if self.source_suffixes else self.compile_argv

    def moved_to(self, build_dir: str, home: str) -> Language:
        """This language building in ``build_dir`` and running with ``home`` (a problem's tool)."""

        def move(values: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(value.replace(BUILD_DIR, build_dir) for value in values)

        return replace(
            self,
            build_dir=build_dir,
            run_argv=move(self.run_argv),
            compile_argv=None if self.compile_argv is None else move(self.compile_argv),
            run_env={**self.run_env, "HOME": home},
        )

    def compile_memory_mb(self, memory_mb: int, floor_override_mb: int = 0) -> int:
        """The compile step's memory for a request of ``memory_mb``.

        The request's own limit, raised to the language's floor (or to
        ``floor_override_mb``, the operator's, when not 0), never lowered: a
        compile's memory is the request's, and no more than the compiler needs.
        """
        return max(memory_mb, floor_override_mb or self.compile_memory_floor_mb)

    def compile_environment(self) -> dict[str, str]:
        return {**_BASE_ENV, "HOME": self.build_dir, **self.compile_env}

    def run_command(self, memory_mb: int) -> list[str]:
        """The run step's argv under a memory limit of ``memory_mb``."""
        program, *rest = self.run_argv
        return [program, *self.memory.argv(memory_mb), *rest]

    def run_environment(self, memory_mb: int) -> dict[str, str]:
        return {**_BASE_ENV, **self.run_env, **self.memory.env(memory_mb)}


LANGUAGES: tuple[Language, ...] = (
    Language(
        name="python",
        aliases=("python", "py", "python3"),
        source_file="main.py",
        # -E -s: ignore PYTHON* variables and the user site directory, so nothing
        # a job leaves behind (usercustomize, .pth files) can reach another job.
        # Not -I, which adds -P: the script's directory (the read-only build dir)
        # stays first on sys.path, so the request's own modules and packages
        # import; the run directory a job writes is never on it.
        # -B: no bytecode files (the build dir is read-only anyway).
        run_argv=("python3", "-E", "-s", "-B", f"{BUILD_DIR}/main.py"),
        memory=Memory(out_of_memory=_python_out_of_memory),
        warm_launcher="python_launcher.py",
        warm_forks=True,
        min_memory_mb_gvisor=48,
    ),
    Language(
        name="javascript",
        aliases=("javascript", "js", "node", "nodejs"),
        source_file="main.js",
        run_argv=("node", f"{BUILD_DIR}/main.js"),
        memory=Memory(argv=_node_heap, out_of_memory=_node_out_of_memory),
        warm_launcher="node_launcher.js",
        min_memory_mb=64,
        min_memory_mb_gvisor=128,
    ),
    Language(
        name="go",
        aliases=("go", "golang"),
        source_file="main.go",
        compile_argv=("go", "build", "-o", f"{BUILD_DIR}/main", f"{BUILD_DIR}/main.go"),
        # A fresh cache per job, so no job can poison a cache another job reads.
        # It lives in /tmp, which the agent wipes after the compile step. The
        # standard library is not in it: the worker image compiled it into
        # GOROOT/pkg under exactly this environment (worker/Dockerfile takes it
        # as GO_COMPILE_ENV), root's and read-only, and with installgoroot=all
        # `go build` takes those archives and compiles the job's package only
        # (Go 1.23 hello world: 0.12-0.14 s, as 1.19's shipped ones did; 12.7 s
        # rebuilding the standard library at the compile's CPU share).
        compile_env={
            "GOCACHE": "/tmp/go-build-cache",
            "GOPATH": "/tmp/gopath",
            "GO111MODULE": "off",
            "GOFLAGS": "-buildvcs=false",
            "GOTOOLCHAIN": "local",
            "GOPROXY": "off",
            # No cgo: it hands a source's #cgo flags to gcc and the linker, and
            # with bookworm's Go 1.19 a //line directive smuggled linker flags
            # that ran a shell at build time (CVE-2023-39323). A file that
            # imports "C" is left out by its build constraint, so the compile
            # fails ("build constraints exclude all Go files").
            "CGO_ENABLED": "0",
            "GODEBUG": "installgoroot=all",
            "XDG_CONFIG_HOME": GO_CONFIG_DIR,
        },
        run_argv=(f"{BUILD_DIR}/main",),
        memory=Memory(env=_go_heap, out_of_memory=_go_out_of_memory),
        # Measured in the engine's container (agent included, runc): a hello
        # world and a program importing eight packages build from 56 MB, one
        # of 320 lines and 150 functions from 80.
        compile_memory_floor_mb=128,
        min_memory_mb_gvisor=128,
        # One package main of the main file and the extra .go files beside it.
        source_suffixes=(".go",),
        not_source_suffixes=("_test.go",),
    ),
    Language(
        name="cpp",
        aliases=("cpp", "c++", "cxx", "cc"),
        source_file="main.cpp",
        compile_argv=(
            "g++",
            *CPP_FLAGS,
            "-pipe",
            # Headers of the request's files include by their path in it; then
            # the image's precompiled <bits/stdc++.h> (a request's own file of
            # that name comes first).
            "-I",
            BUILD_DIR,
            "-I",
            PCH_DIR,
            "-Winvalid-pch",  # a .gch found but unusable says so: the image is broken
            "-o",
            f"{BUILD_DIR}/main",
            f"{BUILD_DIR}/main.cpp",
        ),
        run_argv=(f"{BUILD_DIR}/main",),
        memory=Memory(out_of_memory=_cpp_out_of_memory),
        # Measured as Go's: <iostream> and <vector> build from 72 MB,
        # <bits/stdc++.h> from its 100 MB precompiled header from 80, a segment
        # tree with the usual containers from 96; ten functions instantiating
        # maps, sets and sorts of six types each need 256 (ask for that).
        compile_memory_floor_mb=192,
        min_memory_mb_gvisor=192,
        source_suffixes=(".cpp", ".cc", ".cxx"),
    ),
)

_BY_ALIAS = {alias: lang for lang in LANGUAGES for alias in lang.aliases}


def lookup(name: str) -> Language | None:
    """The language for a name or alias (case-insensitive), or None."""
    return _BY_ALIAS.get(name.strip().lower())


def supported() -> str:
    return ", ".join(f"{lang.name} ({'/'.join(lang.aliases)})" for lang in LANGUAGES)


def guess_from_filename(filename: str) -> Language | None:
    """The language of a source file by its extension (for the CLI's ``run``)."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    by_ext = {
        "py": "python",
        "js": "javascript",
        "mjs": "javascript",
        "cjs": "javascript",
        "go": "go",
        "cpp": "cpp",
        "cc": "cpp",
        "cxx": "cpp",
        "c++": "cpp",
    }
    return lookup(by_ext[ext]) if ext in by_ext else None
