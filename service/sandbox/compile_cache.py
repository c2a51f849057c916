"""Compiled programs kept on the host, so an identical request compiles nothing.

A Go or C++ request whose files, language, compile step and worker image match
an earlier successful compile runs that compile's program instead of compiling
again (a rejudge of the same submission, a course's hundred identical "hello
world"s, a client retrying). The cache lives in the daemon's memory, not in a
container (a container's tmpfs counts against its memory limit), bounded in
bytes, least recently used out first.

What makes an entry trustworthy: the program is the output of a successful
compile in a container verified clean before the job, with the compiler and
everything it started gone before any code of the job's own ran; from then on
the build is root's and read-only, so the runs cannot change it. The agent
reads it back from there (``agent.jobs``): at once for a compile-only job, or,
after an early result, with the cleanup (its processes killed first, before the
wipe), so that the transfer (2 MB for a Go hello world) is never on a reply's
way. No job can plant a program that another request will run.

That holds only if nothing but the compiler wrote the build. The compile runs
as the job's uid in the build dir, which that uid may write until the agent
locks it: any code of the job's own that ran during the compile (a build
script, a macro that runs programs, flags a source hands the linker) could
leave there a program that is not the compiler's output, and it would be kept
for every identical request. So a language whose compile may run the job's
code (``Language.compile_runs_job_code``) is never kept (:func:`keeps`), and
for Go and C++ nothing of the job's runs at build time: g++ takes no flags or
plugins from a source; Go compiles with cgo off (a file importing "C" is left
out, so no #cgo flags reach gcc or the linker) on a toolchain that rejects
cgo's directives outside cgo's own files (bookworm's Go 1.19 took them behind
a //line directive, CVE-2023-39323, and the linker ran a shell with them).

The key (:func:`cache_key`) covers everything that decides the program: the
worker image's id (the compiler, its version, the precompiled headers), the
language, the compile step's argv and environment, and every file of the
submission by name and content.

What a hit tells: that someone compiled exactly these files before on this
daemon (a reply's ``compile_time_ms`` is 0 on a hit). Nothing of the other
request (its stdin, its output) is reachable.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from agent.protocol import Step, StepResult
from wire.stats import CompileCache as CacheFigures

from ..languages import Language

# A program larger than this share of the cache is not kept.
LARGEST_SHARE = 4


@dataclass(frozen=True, slots=True)
class Compiled:
    """A kept compile: the program, and the compile step's result as it was."""

    program: bytes
    compile: StepResult


def keeps(language: Language) -> bool:
    """Whether compiles of ``language`` may be kept: compiled, and only the compiler writes."""
    return (
        language.compiled
        and not language.compile_runs_job_code
        and not language.compile_leaves_more  # one program file is what is kept
    )


def cache_key(image_id: str, language: str, step: Step, files: dict[str, bytes]) -> str:
    """The digest of everything that decides what ``step`` compiles ``files`` into."""
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        # Length-prefixed: no two different sequences of parts hash alike.
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    for text in (image_id, language, *step.argv):
        part(text.encode())
    for name, value in sorted(step.env.items()):
        part(f"{name}={value}".encode())
    for name, content in sorted(files.items()):
        part(name.encode())
        part(content)
    return digest.hexdigest()


class CompileCache:
    """An LRU map from :func:`cache_key` to :class:`Compiled`, bounded in bytes."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity = capacity_bytes
        self._entries: OrderedDict[str, Compiled] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def get(self, key: str) -> Compiled | None:
        """The kept compile for ``key`` (now the most recently used), counted as hit or miss."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: str, program: bytes, compile: StepResult) -> bool:
        """Keep ``program``; False when it is too large to keep."""
        size = len(program)
        if not self.enabled or size == 0 or size > self.capacity // LARGEST_SHARE:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.program)
        # The diagnostics are kept for the replies; stdout and stderr only.
        kept = StepResult(
            exit_code=compile.exit_code,
            signal=compile.signal,
            stdout=compile.stdout,
            stderr=compile.stderr,
            stdout_truncated=compile.stdout_truncated,
            stderr_truncated=compile.stderr_truncated,
        )
        self._entries[key] = Compiled(program, kept)
        self._bytes += size
        while self._bytes > self.capacity:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.program)
        return True

    def figures(self) -> CacheFigures:
        """The figures as the stats snapshot carries them."""
        return CacheFigures(
            hits=self.hits,
            misses=self.misses,
            entries=len(self._entries),
            bytes=self._bytes,
            capacity_bytes=self.capacity,
        )
