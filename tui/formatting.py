"""Small text renderings shared by the widgets: bars, sizes, durations, colours."""

from __future__ import annotations

import time

from rich.text import Text

_EIGHTHS = " ▏▎▍▌▋▊▉"
TRACK = "on #3a3a3a"

STATE_STYLES = {
    "running": "bold green",
    "paused": "bold yellow",
    "draining": "bold magenta",
    "gone": "bold red",
}

CONTAINER_STYLES = {
    "idle": "green",
    "busy": "bold cyan",
    "warming": "yellow",
    "recycling": "magenta",
}

STATUS_STYLES = {
    "ok": "green",
    "runtime_error": "yellow",
    "compile_error": "yellow",
    "timeout": "red",
    "memory_limit": "red",
    "output_limit": "red",
    "busy": "magenta",
    "invalid_request": "magenta",
    "internal_error": "bold red",
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
