"""The selected instance's containers: state, jobs run, CPU and memory bars, current job.

A container has no CPU or memory figures until the engine has sampled it (memory
after one sample, CPU after two): those cells say "sampling…" rather than a
number that is not there.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from .. import formatting as fmt
from ..model import Container, ContainerState, View, by_state
from .panel import Panel

BAR_WIDTH = 10
COLUMNS = (
    ("container", "Container", 14),
    ("state", "State", 10),
    ("jobs", "Jobs", 6),
    ("cpu", "CPU", BAR_WIDTH + 7),
    ("memory", "Memory", BAR_WIDTH + 20),
    ("job", "Current job", None),
)


SAMPLING = "sampling…"


def _no_sample(c: Container) -> Text:
    # A recycling container goes away before it is ever sampled again.
    if c.state is ContainerState.RECYCLING:
        return Text("—", style="dim")
    return Text(SAMPLING, style="dim italic")


def _cpu_cell(c: Container) -> Text:
    if c.cpu_percent is None:
        return _no_sample(c)
    cell = fmt.bar(c.cpu_percent / 100, BAR_WIDTH)
    cell.append(f" {c.cpu_percent:5.1f}%")
    return cell


def _memory_cell(c: Container) -> Text:
    limit = c.memory_limit_bytes
    if c.memory_bytes is None:
        cell = _no_sample(c)
        if limit:
            cell.append(f" / {fmt.size(limit)}", style="dim")
        return cell
    cell = fmt.bar(c.memory_bytes / limit if limit else None, BAR_WIDTH)
    cell.append(f" {fmt.size(c.memory_bytes)} / {fmt.size(limit)}")
    return cell


def _cells(c: Container) -> dict[str, Text]:
    if c.job is None:
        job = Text("—", style="dim")
    else:
        job = Text.assemble(
            (c.job.id[:16], "bold"), f" {c.job.language} ", (fmt.millis(c.job.elapsed_ms), "cyan")
        )
    return {
        "container": Text(c.id[:12]),
        "state": Text(str(c.state), style=fmt.CONTAINER_STYLES[c.state]),
        "jobs": Text(str(c.jobs), justify="right"),
        "cpu": _cpu_cell(c),
        "memory": _memory_cell(c),
        "job": job,
    }


class ContainersTable(DataTable[Text], Panel):
    PANEL_ID = "containers"
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

    containers: reactive[tuple[Container, ...]] = reactive(())

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.border_title = "Containers"
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def show(self, view: View) -> None:
        state = view.selected
        self.containers = state.snapshot.containers if state else ()
        self.set_class(state is not None and state.gone, "-gone")

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

    def watch_containers(self, containers: tuple[Container, ...]) -> None:
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
        busy = by_state(containers)[ContainerState.BUSY]
        self.border_subtitle = f"{len(containers)} containers, {busy} busy"
