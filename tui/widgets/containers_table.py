"""The selected instance's containers: state, jobs run, CPU and memory bars, current job."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from .. import formatting as fmt
from ..model import ContainerStats

BAR_WIDTH = 10
COLUMNS = (
    ("container", "Container", 14),
    ("state", "State", 10),
    ("jobs", "Jobs", 6),
    ("cpu", "CPU", BAR_WIDTH + 7),
    ("memory", "Memory", BAR_WIDTH + 20),
    ("job", "Current job", None),
)


def _cells(c: ContainerStats) -> dict[str, Text]:
    cpu = c.cpu_percent
    limit = c.memory_limit_bytes
    memory = c.memory_bytes
    mem_fraction = memory / limit if memory is not None and limit else None
    cpu_cell = fmt.bar(None if cpu is None else cpu / 100, BAR_WIDTH)
    cpu_cell.append(" -" if cpu is None else f" {cpu:5.1f}%")
    mem_cell = fmt.bar(mem_fraction, BAR_WIDTH)
    mem_cell.append(f" {fmt.size(memory)} / {fmt.size(limit)}")
    if c.job is None:
        job = Text("—", style="dim")
    else:
        job = Text.assemble(
            (c.job.id[:16], "bold"), f" {c.job.language} ", (fmt.millis(c.job.elapsed_ms), "cyan")
        )
    return {
        "container": Text(c.id[:12]),
        "state": Text(c.state, style=fmt.CONTAINER_STYLES.get(c.state, "")),
        "jobs": Text(str(c.jobs), justify="right"),
        "cpu": cpu_cell,
        "memory": mem_cell,
        "job": job,
    }


class ContainersTable(DataTable[Text]):
    DEFAULT_CSS = """
    ContainersTable {
        width: 100%;
        height: 1fr;
        min-height: 5;
        border: round $primary 50%;
        border-title-color: $text-accent;
    }
    ContainersTable:focus {
        border: round $primary;
    }
    ContainersTable.-gone {
        text-opacity: 50%;
    }
    """

    containers: reactive[tuple[ContainerStats, ...]] = reactive(())

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.border_title = "Containers"
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def container_ids(self) -> list[str]:
        return [str(key.value) for key in self.rows]

    @property
    def selected_container(self) -> str | None:
        """The id of the container under the cursor, if any."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return None if row_key.value is None else str(row_key.value)

    def watch_containers(self, containers: tuple[ContainerStats, ...]) -> None:
        if not self.columns:
            return
        wanted = [c.id for c in containers]
        if wanted == self.container_ids:
            for c in containers:
                for column, cell in _cells(c).items():
                    self.update_cell(c.id, column, cell, update_width=column == "job")
        else:
            # Rebuild rather than patch, so the order follows the snapshot.
            selected = self.selected_container
            self.clear()
            for c in containers:
                self.add_row(*_cells(c).values(), key=c.id)
            if selected in wanted:
                self.move_cursor(row=wanted.index(selected), animate=False)
        busy = sum(c.state == "busy" for c in containers)
        self.border_subtitle = f"{len(containers)} containers, {busy} busy"
