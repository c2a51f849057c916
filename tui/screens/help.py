"""The key bindings, on top of the dashboard."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from wire.subjects import admin_subject, stats_subject

from ..model import DROP_AFTER_S, GONE_AFTER_S

KEYS = (
    ("tab / shift+tab", "move between the instance list, containers and job log"),
    ("↑ ↓", "select an instance (instance list) or a container (containers table)"),
    ("p", "pause the selected instance, or resume it when paused"),
    ("d", "drain the selected instance (asks first)"),
    ("r", "recycle the selected container (asks first)"),
    ("+ / -", "keep one warm container more / fewer on the selected instance"),
    ("?", "this help"),
    ("q", "quit"),
)

ABOUT = (
    f"Instances publish stats once a second on {stats_subject('<id>')}. One that stays "
    f"silent for {GONE_AFTER_S:g} s is shown as gone, and is forgotten after "
    f"{DROP_AFTER_S:g} s (not while the dashboard itself is disconnected). Admin requests "
    f"go to {admin_subject('<id>')}; their replies appear as notifications."
)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 84;
        height: auto;
        border: thick $primary;
        border-title-color: $text-accent;
        background: $surface;
        padding: 1 2;
    }
    HelpScreen #about {
        margin-top: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, meaning in KEYS:
            table.add_row(key, meaning)
        with Vertical() as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc closes"
            yield Static(table, id="keys")
            yield Static(ABOUT, id="about")
