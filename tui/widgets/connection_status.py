"""One line saying whether the dashboard hears the message bus."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from ..model import View
from .panel import Panel


class ConnectionStatus(Panel):
    PANEL_ID = "connection"
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

    def show(self, view: View) -> None:
        self.connected = view.link.connected
        self.detail = view.link.detail
        states = view.instances
        gone = sum(s.gone for s in states)
        summary = f"{len(states)} instance{'s' if len(states) != 1 else ''}"
        self.summary = summary + (f", {gone} gone" if gone else "")

    def watch_connected(self, connected: bool) -> None:
        self.set_class(connected, "-connected")

    def render(self) -> Text:
        marker = ("● ", "bold green") if self.connected else ("○ ", "bold red")
        text = Text.assemble(marker, self.detail)
        if self.summary:
            text.append(f"   {self.summary}", style="dim")
        return text
