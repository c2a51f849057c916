"""A scrolling log of the jobs the selected instance finished."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from .. import formatting as fmt
from ..model import RecentJob, View
from .panel import Panel

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


class JobLog(RichLog, Panel):
    PANEL_ID = "jobs"
    DEFAULT_CSS = """
    JobLog {
        height: 14;
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
        self._instance: str | None = None
        self._seen = 0  # of the instance's jobs_seen, how many this log has had

    def on_mount(self) -> None:
        self.border_title = "Recent jobs"

    def show(self, view: View) -> None:
        """Start over for another instance; otherwise add the jobs not shown yet."""
        instance = view.selected.id if view.selected else None
        if instance != self._instance or view.jobs_seen < self._seen:
            self.clear()
            self.count = 0
            self._instance = instance
            self.border_title = f"Recent jobs · {instance}" if instance else "Recent jobs"
            self._add(view.jobs)
        elif view.jobs_seen > self._seen:
            self._add(view.jobs[-(view.jobs_seen - self._seen) :])
        self._seen = view.jobs_seen

    def _add(self, jobs: tuple[RecentJob, ...]) -> None:
        for job in jobs:
            self.write(job_line(job))
            self.count += 1
        self.border_subtitle = f"{self.count} jobs"
