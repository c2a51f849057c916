"""Two lines about the selected instance: state, uptime, version, health, pool.

The pool line counts the containers the snapshot lists, by state, so that it
agrees with the containers table below; the pool's warm target (`pool.size`) is
shown apart, as what `+`/`-` change.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from wire.stats import ContainerState, Snapshot
from wire.subjects import stats_subject

from .. import formatting as fmt
from ..model import InstanceState, View, by_state
from .panel import Panel


def pool_line(s: Snapshot) -> str:
    """`3/3 containers: 3 busy, 0 idle · 1 starting · keeps 2 warm · 4 replaced`."""
    counts = by_state(s.containers)
    listed = [f"{counts[ContainerState.BUSY]} busy", f"{counts[ContainerState.IDLE]} idle"]
    listed += [
        f"{counts[state]} {state}"
        for state in (ContainerState.WARMING, ContainerState.RECYCLING)
        if counts[state]
    ]
    pool = s.pool
    return (
        f"{len(s.containers)}/{pool.max} containers: {', '.join(listed)}"
        f" · {pool.starting} starting · keeps {pool.size} warm · {pool.replaced} replaced"
    )


class InstanceHeader(Panel):
    PANEL_ID = "instance"
    DEFAULT_CSS = """
    InstanceHeader {
        height: 2;
        margin: 0 1;
        padding: 0 1;
        background: $boost;
    }
    """

    instance: reactive[InstanceState | None] = reactive(None)

    def show(self, view: View) -> None:
        self.instance = view.selected

    def render(self) -> Text:
        instance = self.instance
        if instance is None:
            return Text(f"waiting for engine stats on {stats_subject('*')} …", style="dim italic")
        s = instance.snapshot
        text = Text.assemble((s.instance, "bold"), "  ")
        if instance.gone:
            gone = f"GONE — no stats for {fmt.duration(instance.silent_s)}"
            text.append(gone, style=fmt.GONE_STYLE)
            text.append(f" (last seen {s.state})", style="dim")
        else:
            text.append(s.state.upper(), style=fmt.STATE_STYLES[s.state])
        text.append(f"   v{s.version}   up {fmt.duration(s.uptime_s)}   ")
        text.append_text(fmt.health(s.docker.ok, "docker"))
        text.append("  ")
        text.append_text(fmt.health(s.nats.connected, "nats"))
        if s.docker.error:
            text.append(f"  {s.docker.error}", style="red")
        text.append(
            f"\n{pool_line(s)} · accepted {s.counters.accepted} · rejected {s.counters.rejected}",
            style="dim",
        )
        return text
