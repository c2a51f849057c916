"""The list of engine instances heard from; the highlighted one is the selected one."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from .. import formatting as fmt
from ..model import InstanceState, View
from .panel import Panel


def _prompt(instance: InstanceState) -> Text:
    snapshot = instance.snapshot
    if instance.gone:
        marker, state, style = "○", f"gone {fmt.duration(instance.silent_s)}", fmt.GONE_STYLE
    else:
        marker, state = "●", snapshot.state
        style = fmt.STATE_STYLES[snapshot.state]
    text = Text.assemble((marker + " ", style), (snapshot.instance, "bold"))
    text.append(" " + state, style=style)
    text.append(
        f"\n  v{snapshot.version} · up {fmt.duration(snapshot.uptime_s)}"
        f" · {snapshot.workers.busy}/{snapshot.workers.total} busy",
        style="dim",
    )
    return text


class InstanceList(OptionList, Panel):
    PANEL_ID = "instances"
    DEFAULT_CSS = """
    InstanceList {
        width: 40;
        height: 10;
        border: round $primary 50%;
        border-title-color: $text-accent;
        padding: 0;
    }
    InstanceList:focus {
        border: round $primary;
    }
    """

    instances: reactive[tuple[InstanceState, ...]] = reactive(())

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._selected: str | None = None

    def on_mount(self) -> None:
        self.border_title = "Instances"

    def show(self, view: View) -> None:
        self.instances = view.instances
        selected = view.selected.id if view.selected else None
        # Only a change of selection moves the highlight: a view made before the
        # user's latest key press must not take the highlight back.
        if selected != self._selected:
            self._selected = selected
            self.select_instance(selected)

    def watch_instances(self, instances: tuple[InstanceState, ...]) -> None:
        wanted = [i.id for i in instances]
        if wanted != [o.id for o in self.options]:
            current = self.highlighted_option.id if self.highlighted_option else None
            self.set_options(Option(_prompt(i), id=i.id) for i in instances)
            if current in wanted:
                self.highlighted = wanted.index(current)
        else:
            for instance in instances:
                self.replace_option_prompt(instance.id, _prompt(instance))
        gone = sum(i.gone for i in instances)
        live = len(instances) - gone
        self.border_subtitle = f"{live} live, {gone} gone" if gone else f"{live} live"

    def select_instance(self, instance: str | None) -> None:
        """Highlight `instance`, when listed."""
        ids = [o.id for o in self.options]
        if instance in ids:
            self.highlighted = ids.index(instance)
