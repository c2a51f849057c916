"""The live dashboard of the engine instances on one NATS server.

`DashboardApp` gets its data from a `StatsSource` (NATS in production, a fake in tests),
keeps it in a `Fleet`, and pushes one `View` of it to every panel alike: which panels
there are and where they sit is `tui.widgets`'s to say. The source runs in a worker
for the life of the app; each admin request runs in a worker of its own and its
outcome comes back as an `AdminResult` message.
"""

from __future__ import annotations

import logging
import time

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Footer, Header, OptionList

from wire.admin import AdminAction, AdminRequest, EngineState
from wire.connection import NatsConnection

from .messages import AdminResult, ConnectionChanged, SnapshotRejected, StatsReceived
from .model import Clock, Fleet, InstanceState, Link
from .screens import ConfirmScreen, HelpScreen
from .source import AdminError, NatsStatsSource, StatsSource
from .widgets import Panel, layout
from .widgets.containers_table import ContainersTable

LIVENESS_CHECK_S = 0.5

log = logging.getLogger(__name__)


class DashboardApp(App[int]):
    TITLE = "code-engine"
    SUB_TITLE = "dashboard"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("d", "drain", "Drain"),
        Binding("r", "recycle", "Recycle"),
        Binding("plus,equals_sign", "resize(1)", "Worker+", key_display="+"),
        Binding("minus", "resize(-1)", "Worker-", key_display="-"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    selected: reactive[str | None] = reactive(None, init=False)

    def __init__(self, source: StatsSource, *, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self.source = source
        self.fleet = Fleet(clock)
        self.link = Link()
        self.panels: list[Panel] = []
        self._rejected_subjects: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        for row in layout():
            self.panels += [panel(id=panel.PANEL_ID) for panel in row]
            if len(row) == 1:
                yield self.panels[-1]
            else:
                with Horizontal(classes="row"):
                    yield from self.panels[-len(row) :]
        yield Footer()

    def on_mount(self) -> None:
        # The focus starts on the first panel, in LAYOUT's order, that takes it.
        first = next((panel for panel in self.panels if panel.focusable), None)
        if first is not None:
            first.focus()
        self.follow_stats()
        self.set_interval(LIVENESS_CHECK_S, self.check_liveness)

    @work(exclusive=True, group="stats")
    async def follow_stats(self) -> None:
        try:
            await self.source.run(self.post_message)
        except Exception as exc:  # the dashboard stays up to say what went wrong
            self.post_message(ConnectionChanged(False, f"stats source failed: {exc}"))

    # What the source tells.

    def on_stats_received(self, message: StatsReceived) -> None:
        if not self.is_running:  # shutting down: the widgets may be gone
            return
        view = self.fleet.apply(message.snapshot)
        if self.selected is None:
            self.selected = view.id
        self.refresh_views()

    def on_snapshot_rejected(self, message: SnapshotRejected) -> None:
        """Say once per subject that what comes on it is not a snapshot; ignore it after."""
        if message.subject not in self._rejected_subjects:
            self._rejected_subjects.add(message.subject)
            log.warning("ignoring %s: %s", message.subject, message.reason)
            self.notify(
                f"{message.subject}: {message.reason}",
                title="Bad stats message",
                severity="warning",
            )

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        if not self.is_running:
            return
        self.link = Link(message.connected, message.detail)
        self.refresh_views()

    def check_liveness(self) -> None:
        """Mark silent instances as gone and forget those silent for long.

        While the dashboard itself is cut off, the silence says nothing about the
        instances, so none is forgotten then.
        """
        if not self.is_running:
            return
        dropped = self.fleet.expire() if self.link.connected else []
        if self.selected in dropped:
            states = self.fleet.states()
            self.selected = states[0].id if states else None
        self.refresh_views()

    # Pushing the model into the panels.

    def selected_state(self) -> InstanceState | None:
        return None if self.selected is None else self.fleet.state(self.selected)

    def refresh_views(self) -> None:
        view = self.fleet.view(self.selected, self.link)
        for panel in self.panels:
            panel.show(view)

    def watch_selected(self) -> None:
        self.refresh_views()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and event.option.id in self.fleet:
            self.selected = event.option.id

    # Admin actions.

    def _target(self) -> InstanceState | None:
        state = self.selected_state()
        if state is None:
            self.notify("No instance selected.", severity="warning")
        elif state.gone:
            self.notify(f"{state.id} is gone: nothing to send the request to.", severity="warning")
            return None
        return state

    def action_toggle_pause(self) -> None:
        if (state := self._target()) is not None:
            paused = state.snapshot.state is EngineState.PAUSED
            action = AdminAction.RESUME if paused else AdminAction.PAUSE
            self.send_admin(state.id, AdminRequest(action=action))

    def action_drain(self) -> None:
        if (state := self._target()) is None:
            return
        instance = state.id

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_admin(instance, AdminRequest(action=AdminAction.DRAIN))

        question = f"Drain {instance}? It finishes the jobs it has and takes no new ones."
        self.push_screen(ConfirmScreen(question, "Drain"), answered)

    def action_recycle(self) -> None:
        if (state := self._target()) is None:
            return
        container = self.query_one(ContainersTable).selected_container
        if container is None:
            self.notify("No container selected.", severity="warning")
            return
        instance = state.id

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_admin(
                    instance, AdminRequest(action=AdminAction.RECYCLE, container=container)
                )

        question = (
            f"Recycle container {container} on {instance}? A fresh container takes its "
            "place (a busy one finishes its job first)."
        )
        self.push_screen(ConfirmScreen(question, "Recycle"), answered)

    def action_resize(self, delta: int) -> None:
        if (state := self._target()) is None:
            return
        # The pool size is the number of warm containers kept ready, from 1 up to
        # the instance's concurrency (pool.max).
        pool = state.snapshot.pool
        workers = pool.size + delta
        if workers < 1:
            self.notify("At least one warm container.", severity="warning")
            return
        if pool.max and workers > pool.max:
            self.notify(f"At most {pool.max} (the instance's concurrency).", severity="warning")
            return
        self.send_admin(state.id, AdminRequest(action=AdminAction.RESIZE, workers=workers))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    @work(group="admin")
    async def send_admin(self, instance: str, request: AdminRequest) -> None:
        action = str(request.action)
        try:
            reply = await self.source.admin(instance, request)
        except AdminError as exc:
            self.post_message(AdminResult(instance, action, ok=False, error=str(exc)))
            return
        self.post_message(AdminResult(instance, action, reply.ok, reply.state, reply.error))

    def on_admin_result(self, result: AdminResult) -> None:
        if not self.is_running:
            return
        if not result.ok:
            self.notify(
                result.error or "refused",
                title=f"{result.instance}: {result.action} failed",
                severity="error",
                markup=False,
            )
            return
        view = self.fleet.get(result.instance)
        if view is not None and result.state:
            view.set_state(result.state)
            self.refresh_views()
        now = f", now {result.state}" if result.state else ""
        self.notify(f"{result.action} done{now}", title=result.instance, markup=False)


def run_dashboard(nats: str | NatsConnection) -> int:
    """Run the dashboard against NATS (a URL, or servers with login and TLS) until quit."""
    app = DashboardApp(NatsStatsSource(nats))
    app.run()
    return app.return_code or 0
