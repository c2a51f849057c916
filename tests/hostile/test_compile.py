"""Hostile sources aimed at the compile step and at the request size limits."""

from __future__ import annotations

import pytest

from .hostile_support import Hostile, HostileBench, ids

pytestmark = pytest.mark.hostile

MAX_CODE_BYTES = 64 << 10  # the daemon's default for compiler requests


def _error_has(*needles: str):
    def check(reply: dict) -> None:
        for needle in needles:
            assert needle in reply["error"], reply["error"][-2000:]

    return check


def _stopped_by_a_limit(reply: dict) -> None:
    assert reply["error"].endswith(
        ("compilation exceeded its time limit", "compilation exceeded the memory limit")
    ), reply["error"][-500:]


INCLUDE_RANDOM = '#include "/dev/random"\nint main() {}\n'

TEMPLATE_EXPLOSION = r"""
template <int N, unsigned long M> struct Blow {
    static constexpr unsigned long v = Blow<N - 1, 2 * M>::v ^ Blow<N - 1, 2 * M + 1>::v;
};
template <unsigned long M> struct Blow<0, M> { static constexpr unsigned long v = M; };
int main() { return int(Blow<30, 1>::v & 1); }
"""

CONSTEXPR_LOOP = r"""
constexpr long spin() {
    long sum = 0;
    for (int j = 0; j < 200000; j++)
        for (int i = 0; i < 200000; i++) sum += i ^ j;
    return sum;
}
static_assert(spin() != 1, "");
int main() {}
"""

# Each U() expands on its own, so every use is a new undeclared name: 1000
# errors, each with a page of macro notes.
ERROR_FLOOD = r"""
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define U() CAT(undeclared_, __COUNTER__)++;
#define X10(x) x() x() x() x() x() x() x() x() x() x()
#define Y10(x) X10(x) X10(x) X10(x) X10(x) X10(x) X10(x) X10(x) X10(x) X10(x) X10(x)
void f() { Y10(U) Y10(U) Y10(U) Y10(U) Y10(U) Y10(U) Y10(U) Y10(U) Y10(U) Y10(U) }
int main() {}
"""

GO_HUGE_BINARY = """package main

import "fmt"

var big = [1 << 28]byte{1}

func main() { fmt.Println(big[0]) }
"""

# Build-time code execution through cgo (CVE-2023-39323 and its kind): linker
# flags that make gcc run every step of the link through a shell, which would
# print the marker into the compiler's output and let the build succeed. They
# must never reach a linker: the compile is a compile_error, and no marker. The
# marker is made by the code that would run (the compiler quotes the source).
BUILD_MARKER = "RAN-AT-BUILD-42"
_WRAP_THE_LINKER = """//line _cgo_gotypes.go:1
//go:cgo_ldflag "-wrapper"
//go:cgo_ldflag "/bin/sh,-c,echo RAN-AT-BUILD-$((6 * 7)) >&2; touch /tmp/built; exec $0 $@"
"""

# Directives only cgo's generated files may carry, in a file a //line directive
# names as one of them (bookworm's Go 1.19 took them so).
GO_LDFLAG_BEHIND_A_LINE_DIRECTIVE = f"""package main

import "fmt"

{_WRAP_THE_LINKER}
func main() {{ fmt.Println("built") }}
"""

# The same beside an import of "C", which is what made 1.19 link externally
# (gcc ran the shell, the marker was printed and the build succeeded).
GO_LDFLAG_BESIDE_IMPORT_C = f"""package main

import "C"
import "fmt"

{_WRAP_THE_LINKER}
func main() {{ fmt.Println("built") }}
"""

# Plain cgo: flags for the linker and C code in the preamble.
GO_CGO_LINKER_FLAGS = """package main

// #cgo LDFLAGS: -Wl,-plugin,/tmp/plugin.so -Wl,--defsym=cgo_marker=1
// #include <stdio.h>
// static void say(void) { puts("RAN-AT-BUILD-" "42"); }
import "C"

func main() { C.say() }
"""


def _nothing_ran_at_build(*needles: str):
    def check(reply: dict) -> None:
        _error_has(*needles)(reply)
        shown = f"{reply.get('error')}{reply.get('output')}"
        assert BUILD_MARKER not in shown, shown[-2000:]

    return check


BIG_BUT_ALLOWED = (
    "#include <cstdio>\nstatic const int table[] = {"
    + ",".join(str(i % 10) for i in range(MAX_CODE_BYTES // 2 - 200))
    + '};\nint main() { long s = 0; for (int v : table) s += v; std::printf("%ld\\n", s); }\n'
)
BIG_SUM = sum(i % 10 for i in range(MAX_CODE_BYTES // 2 - 200))

CASES = [
    Hostile(
        "cpp-include-dev-random",
        "cpp",
        INCLUDE_RANDOM,
        "compile_error",
        # At the memory limit the kernel either kills the compiler at once (an OOM
        # kill: the container is retired) or first evicts the compiler's own code
        # pages again and again until the compile's time runs out (verified clean,
        # kept): both seen here, on the same kernel, from one run to the next.
        replaced=None,
        check=_stopped_by_a_limit,
    ),
    Hostile(
        "cpp-template-explosion",
        "cpp",
        TEMPLATE_EXPLOSION,
        "compile_error",
        # At the memory limit the kernel either kills the compiler at once (an OOM
        # kill: the container is retired) or first evicts the compiler's own code
        # pages again and again until the compile's time runs out (verified clean,
        # kept): both seen here, on the same kernel, from one run to the next.
        replaced=None,
        check=_stopped_by_a_limit,
    ),
    Hostile(
        "cpp-constexpr-loop",
        "cpp",
        CONSTEXPR_LOOP,
        "compile_error",
        check=_error_has("compilation exceeded its time limit"),
    ),
    Hostile(
        "cpp-error-flood",
        "cpp",
        ERROR_FLOOD,
        "compile_error",
        check=lambda r: (
            r["truncated"] is True and r["error"].endswith("compiler output exceeded its limit")
        ),
    ),
    Hostile(
        "cpp-include-a-secret",
        "cpp",
        '#include "/etc/shadow"\nint main() {}\n',
        "compile_error",
        check=_error_has("/etc/shadow: Permission denied"),
    ),
    Hostile(
        "go-binary-over-the-file-limit",
        "go",
        GO_HUGE_BINARY,
        "compile_error",
        check=_error_has("file too large"),
    ),
    Hostile(
        "go-cgo-ldflag-behind-a-line-directive",
        "go",
        GO_LDFLAG_BEHIND_A_LINE_DIRECTIVE,
        "compile_error",
        check=_nothing_ran_at_build("only allowed in cgo-generated code"),
    ),
    Hostile(
        "go-cgo-ldflag-beside-import-c",
        "go",
        GO_LDFLAG_BESIDE_IMPORT_C,
        "compile_error",
        # cgo is off: the file that imports "C" is left out of the build.
        check=_nothing_ran_at_build("build constraints exclude all Go files"),
    ),
    Hostile(
        "go-cgo-linker-flags",
        "go",
        GO_CGO_LINKER_FLAGS,
        "compile_error",
        check=_nothing_ran_at_build("build constraints exclude all Go files"),
    ),
    Hostile(
        "python-source-over-the-size-limit",
        "python",
        "#" * MAX_CODE_BYTES + "\nprint('never')",
        "invalid_request",
        check=_error_has("larger than the limit"),
    ),
    Hostile(
        "cpp-source-just-under-the-size-limit",
        "cpp",
        BIG_BUT_ALLOWED,
        "ok",
        check=lambda r: r["output"] == f"{BIG_SUM}\n",
    ),
]


def test_the_big_source_is_really_big() -> None:
    assert MAX_CODE_BYTES - 1024 < len(BIG_BUT_ALLOWED) <= MAX_CODE_BYTES


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_compile_attacks(sandbox: HostileBench, baseline, case: Hostile) -> None:
    sandbox.exercise(case)
