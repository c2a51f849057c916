"""How the selected instance's jobs ended, by status and by language."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive

from .. import formatting as fmt
from ..model import Counters, View
from .panel import Panel

BAR_WIDTH = 10


class StatusBreakdown(Panel):
    PANEL_ID = "outcomes"
    DEFAULT_CSS = """
    StatusBreakdown {
        width: 40;
        height: 14;
        border: round $primary 50%;
        border-title-color: $text-accent;
        padding: 0 1;
    }
    """

    counters: reactive[Counters | None] = reactive(None)

    def on_mount(self) -> None:
        self.border_title = "Outcomes"

    def show(self, view: View) -> None:
        self.counters = view.selected.snapshot.counters if view.selected else None

    def render(self) -> Table | Text:
        counters = self.counters
        if counters is None:
            return Text("no data", style="dim")
        table = Table.grid(padding=(0, 1))
        table.add_column()
        table.add_column(justify="right")
        table.add_column()
        finished = sum(counters.by_status.values())
        table.add_row(Text("accepted", style="bold"), str(counters.accepted), "")
        table.add_row(
            Text("rejected", style="bold"),
            Text(str(counters.rejected), style="red" if counters.rejected else ""),
            "",
        )
        ranked = sorted(counters.by_status.items(), key=lambda kv: (-kv[1], kv[0]))
        for status, count in ranked:
            style = fmt.STATUS_STYLES[status]
            share = count / finished if finished else 0.0
            cell = fmt.bar(share, BAR_WIDTH, style)
            cell.append(f" {share:4.0%}")
            table.add_row(Text(status, style=style), str(count), cell)
        if counters.by_language:
            languages = sorted(counters.by_language.items(), key=lambda kv: (-kv[1], kv[0]))
            table.add_row("", "", "")
            for language, count in languages:
                table.add_row(Text(language, style="italic"), str(count), "")
        return table
