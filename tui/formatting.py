"""Small text renderings shared by the widgets: bars, sizes, durations, colours."""

from __future__ import annotations

import time

from rich.text import Text

from wire.admin import EngineState
from wire.stats import ContainerState
from wire.status import Status

_EIGHTHS = " ▏▎▍▌▋▊▉"
TRACK = "on #3a3a3a"

# Every member of each wire enum has its style (tests/tui/test_tui_styles.py makes
# sure), so a new state or verdict cannot reach the screen unstyled.
STATE_STYLES: dict[EngineState, str] = {
    EngineState.RUNNING: "bold green",
    EngineState.PAUSED: "bold yellow",
    EngineState.DRAINING: "bold magenta",
}
GONE_STYLE = "bold red"  # an instance fallen silent, whatever state it said last

CONTAINER_STYLES: dict[ContainerState, str] = {
    ContainerState.IDLE: "green",
    ContainerState.BUSY: "bold cyan",
    ContainerState.WARMING: "yellow",
    ContainerState.RECYCLING: "magenta",
}

# By whose doing a job ended: passed, the solution's failure, a limit it hit,
# nothing ran (refused or skipped), the engine's or the problem's own fault.
STATUS_STYLES: dict[Status, str] = {
    Status.OK: "green",
    Status.ACCEPTED: "green",
    Status.RUNTIME_ERROR: "yellow",
    Status.COMPILE_ERROR: "yellow",
    Status.WRONG_ANSWER: "yellow",
    Status.TIMEOUT: "red",
    Status.MEMORY_LIMIT: "red",
    Status.OUTPUT_LIMIT: "red",
    Status.BUSY: "magenta",
    Status.INVALID_REQUEST: "magenta",
    Status.SKIPPED: "dim",
    Status.INTERNAL_ERROR: "bold red",
    Status.CHECKER_ERROR: "bold red",
}


def bar(fraction: float | None, width: int, style: str = "") -> Text:
    """A gauge `width` cells wide, filled to `fraction` in eighths of a cell."""
    if fraction is None:
        return Text().append(" " * width, style=TRACK)
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    filled = "█" * full + (_EIGHTHS[part] if part else "")
    colour = style or level_style(fraction)
    return Text().append(filled + " " * (width - len(filled)), style=f"{colour} {TRACK}")


def level_style(fraction: float) -> str:
    if fraction >= 0.9:
        return "red"
    if fraction >= 0.7:
        return "yellow"
    return "green"


def size(n: int | None) -> str:
    """`512 B`, `9.5 MiB`, `173 MiB`: three significant digits at most."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1000 or unit == "GiB":
            break
        value /= 1024
    if unit == "B" or value >= 100:
        return f"{value:.0f} {unit}"
    return f"{value:.1f} {unit}"


def duration(seconds: float) -> str:
    """`45s`, `12m03s`, `3h07m`, `2d04h`."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def millis(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def clock_time(epoch: float | None) -> str:
    if epoch is None:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def health(ok: bool, label: str) -> Text:
    return Text.assemble((f"{label} ", "dim"), ("✔", "green") if ok else ("✘", "bold red"))
