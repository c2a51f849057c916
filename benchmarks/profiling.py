"""py-spy on the daemon and on an agent, and a summary of where the samples fell.

py-spy comes from the peer virtualenv (``benchmarks/.peer-venv``), installed on
first use of ``--profile``. Recordings are collapsed stacks (``--format raw``),
one ``frame;frame;...;leaf COUNT`` line per distinct stack: speedscope and
flamegraph.pl read them as they are.
"""

from __future__ import annotations

import collections
import contextlib
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import BenchError

_LINE_NUMBER = re.compile(r":\d+\)$")


@contextlib.contextmanager
def record(py_spy: Path, pid: int, output: Path, *, idle: bool, rate: int = 250) -> Iterator[Path]:
    """Sample ``pid`` while the block runs; the collapsed stacks land in ``output``.

    ``idle`` keeps samples of threads that wait (wall-clock view); without it
    only running threads count (CPU view). Sampling does not pause the target.
    """
    argv = [str(py_spy), "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking"]
    argv += ["--format", "raw", "--output", str(output)]
    if idle:
        argv.append("--idle")
    log = output.with_suffix(".log")
    with open(log, "wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            yield output
        finally:
            process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if not output.exists():
        raise BenchError(f"py-spy wrote nothing for pid {pid}: {log.read_text()[-500:]}")


def dump(py_spy: Path, pid: int) -> str:
    """The stacks of every thread of ``pid`` right now."""
    done = subprocess.run(
        [str(py_spy), "dump", "--pid", str(pid), "--nonblocking"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return (done.stdout + done.stderr).decode(errors="replace")


@dataclass(frozen=True, slots=True)
class Hotspot:
    frame: str  # "function (file)"
    inclusive: float  # share of samples with the frame anywhere on the stack
    own: float  # share of samples with the frame as the leaf


def _frame(raw: str) -> str:
    return _LINE_NUMBER.sub(")", raw.strip())


def hotspots(collapsed: Path, limit: int = 15) -> tuple[int, list[Hotspot]]:
    """(total samples, the frames with most inclusive samples) of a recording."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    if total == 0:
        return 0, []
    ranked = sorted(inclusive, key=lambda f: (-inclusive[f], f))
    spots = [Hotspot(f, inclusive[f] / total, own[f] / total) for f in ranked]
    # The outermost frames (thread bootstrap, run loops) are on every stack: skip
    # frames above 98 % unless nothing else is left.
    informative = [s for s in spots if s.inclusive < 0.98] or spots
    return total, informative[:limit]


def top_own(collapsed: Path, limit: int = 15) -> list[Hotspot]:
    """The frames where the samples themselves fell (leaf frames), most first."""
    total, _ = hotspots(collapsed, limit=0)
    own: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            own[_frame(stack.split(";")[-1])] += int(count_text)
    if total == 0:
        return []
    return [Hotspot(f, 0.0, n / total) for f, n in own.most_common(limit)]
