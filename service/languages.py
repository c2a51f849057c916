"""The language table: aliases, the file a job's source goes in, and how to build and run it.

The agent knows nothing of languages: the host turns a request into argv, env and
limits here. Paths are the agent's fixed layout (sources and artifacts in
``/work/build``, locked read-only before any run; runs happen in a fresh
``/work/run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

BUILD_DIR = "/work/build"
RUN_DIR = "/work/run"
# A problem's tool (checker) builds here and runs in CHECK_DIR, as the tool user.
TOOL_DIR = "/work/tool"
CHECK_DIR = "/work/check"

_BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": RUN_DIR,
    "TMPDIR": "/tmp",
}


@dataclass(frozen=True, slots=True)
class Language:
    name: str
    aliases: tuple[str, ...]
    source_file: str
    run_argv: tuple[str, ...]
    compile_argv: tuple[str, ...] | None = None
    compile_env: dict[str, str] = field(default_factory=dict)
    run_env: dict[str, str] = field(default_factory=dict)
    # Extra files (a request's ``files``) with these endings are compiled too.
    source_suffixes: tuple[str, ...] = ()
    not_source_suffixes: tuple[str, ...] = ()
    build_dir: str = BUILD_DIR

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

    def compile_environment(self) -> dict[str, str]:
        return {**_BASE_ENV, "HOME": self.build_dir, **self.compile_env}

    def run_environment(self) -> dict[str, str]:
        return {**_BASE_ENV, **self.run_env}


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
    ),
    Language(
        name="javascript",
        aliases=("javascript", "js", "node", "nodejs"),
        source_file="main.js",
        run_argv=("node", f"{BUILD_DIR}/main.js"),
    ),
    Language(
        name="go",
        aliases=("go", "golang"),
        source_file="main.go",
        compile_argv=("go", "build", "-o", f"{BUILD_DIR}/main", f"{BUILD_DIR}/main.go"),
        # A fresh cache per job: Debian's Go ships the standard library precompiled,
        # so nothing is rebuilt, and no job can poison a cache another job reads.
        # It lives in /tmp, which the agent wipes after the compile step, so the
        # locked build stays small (a hello world leaves ~270 cache files).
        compile_env={
            "GOCACHE": "/tmp/go-build-cache",
            "GOPATH": "/tmp/gopath",
            "GO111MODULE": "off",
            "GOFLAGS": "-buildvcs=false",
            "GOTOOLCHAIN": "local",
            "GOPROXY": "off",
            # cgo stays on: Debian's precompiled standard library was built with it,
            # and turning it off recompiles net, os/user and their dependents (4 s).
        },
        run_argv=(f"{BUILD_DIR}/main",),
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
            "-std=c++17",
            "-O2",
            "-pipe",
            # Headers of the request's files include by their path in it.
            "-I",
            BUILD_DIR,
            "-o",
            f"{BUILD_DIR}/main",
            f"{BUILD_DIR}/main.cpp",
        ),
        run_argv=(f"{BUILD_DIR}/main",),
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
