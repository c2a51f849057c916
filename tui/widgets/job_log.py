"""A scrolling log of the jobs the selected instance finished."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from .. import formatting as fmt
from ..model import RecentJob

MAX_LINES = 500


def job_line(job: RecentJob) -> Text:
    return Text.assemble(
        (fmt.clock_time(job.at), "dim"),
        "  ",
        (f"{job.id:<14.14}", "bold"),
        " ",
        f"{job.language:<11.11}",
        (f"{job.status:<15.15}", fmt.STATUS_STYLES[job.status]),
        f"{fmt.millis(job.total_ms):>9}",
    )


class JobLog(RichLog):
    DEFAULT_CSS = """
    JobLog {
        height: 100%;
        border: round $primary 50%;
        border-title-color: $text-accent;
        background: $surface;
        padding: 0 1;
    }
    JobLog:focus {
        border: round $primary;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_LINES, wrap=False, markup=False)
        self.count = 0

    def on_mount(self) -> None:
        self.border_title = "Recent jobs"

    def show(self, instance: str | None, jobs: Iterable[RecentJob]) -> None:
        """Start over with the jobs of `instance` seen so far."""
        self.clear()
        self.count = 0
        self.border_title = f"Recent jobs · {instance}" if instance else "Recent jobs"
        self.add(jobs)

    def add(self, jobs: Iterable[RecentJob]) -> None:
        for job in jobs:
            self.write(job_line(job))
            self.count += 1
        self.border_subtitle = f"{self.count} jobs"
