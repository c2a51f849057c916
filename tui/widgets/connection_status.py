"""One line saying whether the dashboard hears the message bus."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class ConnectionStatus(Widget):
    DEFAULT_CSS = """
    ConnectionStatus {
        height: 1;
        padding: 0 1;
        background: $error 30%;
    }
    ConnectionStatus.-connected {
        background: $success 15%;
    }
    """

    connected: reactive[bool] = reactive(False)
    detail: reactive[str] = reactive("connecting…")
    summary: reactive[str] = reactive("")

    def watch_connected(self, connected: bool) -> None:
        self.set_class(connected, "-connected")

    def render(self) -> Text:
        marker = ("● ", "bold green") if self.connected else ("○ ", "bold red")
        text = Text.assemble(marker, self.detail)
        if self.summary:
            text.append(f"   {self.summary}", style="dim")
        return text
