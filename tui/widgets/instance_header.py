"""Two lines about the selected instance: state, uptime, version, health, pool."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .. import formatting as fmt
from ..model import InstanceState


class InstanceHeader(Widget):
    DEFAULT_CSS = """
    InstanceHeader {
        height: 2;
        padding: 0 1;
        background: $boost;
    }
    """

    instance: reactive[InstanceState | None] = reactive(None)

    def render(self) -> Text:
        instance = self.instance
        if instance is None:
            return Text("waiting for engine stats on code-engine.stats.* …", style="dim italic")
        s = instance.snapshot
        text = Text.assemble((s.instance, "bold"), "  ")
        if instance.gone:
            text.append(f"GONE — no stats for {fmt.duration(instance.silent_s)}", style="bold red")
            text.append(f" (last seen {s.state})", style="dim")
        else:
            text.append(s.state.upper(), style=fmt.STATE_STYLES.get(s.state, "bold"))
        text.append(f"   v{s.version}   up {fmt.duration(s.uptime_s)}   ")
        text.append_text(fmt.health(s.docker_ok, "docker"))
        text.append("  ")
        text.append_text(fmt.health(s.nats_connected, "nats"))
        if s.docker_error:
            text.append(f"  {s.docker_error}", style="red")
        pool = s.pool
        text.append(
            f"\npool {pool.size}/{pool.max} containers"
            f" · {pool.starting} starting · {pool.replaced} replaced"
            f" · accepted {s.counters.accepted} · rejected {s.counters.rejected}",
            style="dim",
        )
        return text
