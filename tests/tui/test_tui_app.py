"""The dashboard driven through the pilot, fed by a FakeStatsSource."""

from __future__ import annotations

from tui_harness import BUSY, IDLE, WARMING, Harness, container, drive, job, running, snapshot

from tui.screens import ConfirmScreen, HelpScreen
from tui.source import AdminTimeout
from wire.admin import EngineState
from wire.stats import Pool
from wire.status import Status


def test_rows_appear_when_snapshots_arrive() -> None:
    async def scenario(d: Harness) -> None:
        assert "waiting for engine stats" in d.header()
        await d.push(snapshot("host-1"))
        assert list(d.instances()) == ["host-1"]
        assert "running" in d.instances()["host-1"]
        assert d.table.container_ids == ["aaaaaaaaaaa1", "bbbbbbbbbbb2"]
        assert d.cell("aaaaaaaaaaa1", "state") == "busy"
        assert "55.0%" in d.cell("aaaaaaaaaaa1", "cpu")
        assert "120 MiB / 400 MiB" in d.cell("aaaaaaaaaaa1", "memory")
        assert d.cell("aaaaaaaaaaa1", "job") == "j-1 python 120 ms"
        assert d.cell("bbbbbbbbbbb2", "job") == "—"
        assert "host-1" in d.header() and "RUNNING" in d.header()

    drive(scenario)


def test_rows_update_when_the_snapshot_changes() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        changed = [
            container("aaaaaaaaaaa1", IDLE, jobs=13, cpu=0.5),
            container("bbbbbbbbbbb2", BUSY, jobs=7, job=running("j-2", "go", 40.0)),
        ]
        await d.push(snapshot("host-1", containers=changed, state=EngineState.PAUSED))
        assert d.table.container_ids == ["aaaaaaaaaaa1", "bbbbbbbbbbb2"]
        assert d.cell("aaaaaaaaaaa1", "state") == "idle"
        assert d.cell("aaaaaaaaaaa1", "jobs") == "13"
        assert d.cell("aaaaaaaaaaa1", "job") == "—"
        assert d.cell("bbbbbbbbbbb2", "job") == "j-2 go 40.0 ms"
        assert "paused" in d.instances()["host-1"]
        assert "PAUSED" in d.header()

    drive(scenario)


def test_a_container_gone_from_the_snapshot_leaves_the_table() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        replaced = [container("bbbbbbbbbbb2"), container("ccccccccccc3", WARMING)]
        await d.push(snapshot("host-1", containers=replaced))
        assert d.table.container_ids == ["bbbbbbbbbbb2", "ccccccccccc3"]
        await d.push(snapshot("host-1", containers=[]))
        assert d.table.container_ids == []
        assert d.table.row_count == 0

    drive(scenario)


def test_the_header_counts_the_containers_the_table_lists() -> None:
    """Under load: three busy containers while the pool keeps two warm (of three at most).

    The header used to say "pool 2/3 containers" (the warm target) over a table of
    three, and the container warmed last showed CPU "-" and memory "? / 400 MiB".
    """

    async def scenario(d: Harness) -> None:
        busy = [
            container("aaaaaaaaaaa1", BUSY, job=running("j-1")),
            container("bbbbbbbbbbb2", BUSY, job=running("j-2")),
            container("ccccccccccc3", BUSY, job=running("j-3"), cpu=None, memory=None),
        ]
        await d.push(snapshot("host-1", containers=busy, pool=Pool(size=2, max=3, starting=0)))
        assert len(d.table.container_ids) == 3
        assert "3/3 containers: 3 busy, 0 idle · 0 starting · keeps 2 warm" in d.header()
        assert d.table.border_subtitle == "3 containers, 3 busy"
        assert d.cell("ccccccccccc3", "cpu") == "sampling…"
        assert d.cell("ccccccccccc3", "memory") == "sampling… / 400 MiB"
        first_sample = container("ccccccccccc3", BUSY, job=running("j-3"), cpu=None)
        await d.push(snapshot("host-1", containers=[*busy[:2], first_sample]))
        assert d.cell("ccccccccccc3", "cpu") == "sampling…"  # CPU % needs a second reading
        assert "10.0 MiB / 400 MiB" in d.cell("ccccccccccc3", "memory")

    drive(scenario)


def test_an_instance_that_stops_publishing_is_marked_gone_then_dropped() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"), snapshot("host-2"))
        await d.tick(2.0)
        await d.push(snapshot("host-2"))
        await d.tick(1.5)  # host-1 silent for 3.5 s, host-2 for 1.5 s
        assert "gone 3s" in d.instances()["host-1"]
        assert "gone" not in d.instances()["host-2"]
        assert "GONE — no stats for 3s" in d.header()  # host-1 is still selected
        assert d.table.has_class("-gone")
        assert "2 instances, 1 gone" in d.connection()
        await d.tick(27.0)  # host-1 silent for 30.5 s: forgotten
        assert list(d.instances()) == ["host-2"]
        assert d.app.selected == "host-2"
        assert "host-2" in d.header()

    drive(scenario)


def test_nothing_is_dropped_while_the_dashboard_is_disconnected() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        d.source.disconnect()
        await d.pilot.pause()
        await d.tick(60.0)
        assert "gone" in d.instances()["host-1"]
        d.source.connect()
        await d.pilot.pause()
        await d.tick(0.5)
        assert list(d.instances()) == []

    drive(scenario)


def test_a_returning_instance_is_live_again() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        await d.tick(5.0)
        assert "gone" in d.instances()["host-1"]
        await d.push(snapshot("host-1"))
        assert "gone" not in d.instances()["host-1"]
        assert not d.table.has_class("-gone")

    drive(scenario)


def test_disconnection_and_reconnection_are_shown() -> None:
    async def scenario(d: Harness) -> None:
        assert "connected to nats://127.0.0.1:4222" in d.connection()
        d.source.disconnect()
        await d.pilot.pause()
        assert "disconnected from nats://127.0.0.1:4222 — reconnecting…" in d.connection()
        assert not d.app.query_one("#connection").has_class("-connected")
        d.source.connect()
        await d.pilot.pause()
        assert "● connected to nats://127.0.0.1:4222" in d.connection()

    drive(scenario)


def test_p_pauses_then_resumes() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        await d.press("p")
        assert d.source.admin_requests == [("host-1", {"action": "pause"})]
        assert "PAUSED" in d.header()  # from the reply, before the next snapshot
        assert ("information", "host-1", "pause done, now paused") in d.notifications()
        await d.press("p")
        assert d.source.admin_requests[-1] == ("host-1", {"action": "resume"})
        await d.push(snapshot("host-1", state=EngineState.PAUSED))
        await d.press("p")
        assert d.source.admin_requests[-1] == ("host-1", {"action": "resume"})

    drive(scenario)


def test_d_asks_before_draining() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        await d.press("d")
        assert isinstance(d.app.screen, ConfirmScreen)
        assert "Drain host-1?" in d.app.screen.question
        assert d.source.admin_requests == []
        await d.pilot.click("#yes")
        await d.settle()
        assert not isinstance(d.app.screen, ConfirmScreen)
        assert d.source.admin_requests == [("host-1", {"action": "drain"})]
        assert "DRAINING" in d.header()

    drive(scenario)


def test_r_recycles_the_container_under_the_cursor() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        await d.press("tab", "down")
        assert d.table.selected_container == "bbbbbbbbbbb2"
        await d.press("r")
        assert isinstance(d.app.screen, ConfirmScreen)
        assert "bbbbbbbbbbb2" in d.app.screen.question
        await d.press("y")
        assert d.source.admin_requests == [
            ("host-1", {"action": "recycle", "container": "bbbbbbbbbbb2"})
        ]

    drive(scenario)


def test_cancel_in_the_confirm_dialog_sends_nothing() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        await d.press("d")
        await d.pilot.click("#no")
        await d.settle()
        await d.press("r", "escape")
        await d.press("d", "n")
        await d.press("r", "enter")  # the focus starts on Cancel
        assert not isinstance(d.app.screen, ConfirmScreen)
        assert d.source.admin_requests == []

    drive(scenario)


def test_plus_and_minus_resize_the_workers() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1", pool=Pool(size=2, max=3)))
        await d.press("plus")
        await d.press("minus")
        assert d.source.admin_requests == [
            ("host-1", {"action": "resize", "workers": 3}),
            ("host-1", {"action": "resize", "workers": 1}),
        ]
        await d.push(snapshot("host-1", pool=Pool(size=3, max=3)))
        await d.press("plus")  # already at the instance's concurrency: nothing sent
        assert len(d.source.admin_requests) == 2

    drive(scenario)


def test_no_admin_request_to_a_gone_instance() -> None:
    async def scenario(d: Harness) -> None:
        await d.press("p")
        assert d.notifications()[-1] == ("warning", "", "No instance selected.")
        await d.push(snapshot("host-1"))
        await d.tick(4.0)
        await d.press("p", "d", "plus")
        assert d.source.admin_requests == []
        assert "host-1 is gone" in d.notifications()[-1][2]

    drive(scenario)


def test_admin_errors_are_notified() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1"))
        d.source.admin_error = AdminTimeout("host-1 did not answer within 3 s")
        await d.press("p")
        assert d.notifications()[-1] == (
            "error",
            "host-1: pause failed",
            "host-1 did not answer within 3 s",
        )
        d.source.admin_error = None
        d.source.reply = lambda instance, body: {
            "ok": False,
            "state": "running",
            "error": "no such container",
        }
        await d.press("p")
        assert d.notifications()[-1] == ("error", "host-1: pause failed", "no such container")
        assert "RUNNING" in d.header()

    drive(scenario)


def test_selecting_another_instance_shows_its_containers_and_jobs() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(
            snapshot("host-1", recent=[job("j-a1")]),
            snapshot(
                "host-2",
                containers=[container("ddddddddddd4", BUSY)],
                recent=[job("j-b1", status=Status.TIMEOUT, language="go")],
            ),
        )
        assert d.app.selected == "host-1"
        assert any("j-a1" in line for line in d.log_lines())
        await d.press("down")
        assert d.app.selected == "host-2"
        assert d.table.container_ids == ["ddddddddddd4"]
        lines = d.log_lines()
        assert len(lines) == 1 and "j-b1" in lines[0] and "timeout" in lines[0]
        await d.push(
            snapshot("host-2", recent=[job("j-b2")]), snapshot("host-1", recent=[job("j-a2")])
        )
        assert [line.split()[1] for line in d.log_lines()] == ["j-b1", "j-b2"]
        await d.press("p")
        assert d.source.admin_requests == [("host-2", {"action": "pause"})]

    drive(scenario)


def test_bad_stats_messages_are_reported_once_and_ignored() -> None:
    async def scenario(d: Harness) -> None:
        d.source.push(b"{not json", subject="code-engine.stats.broken")
        d.source.push(b"[]", subject="code-engine.stats.broken")
        await d.push(snapshot("host-1"))
        warnings = [n for n in d.notifications() if n[0] == "warning"]
        assert len(warnings) == 1 and "code-engine.stats.broken" in warnings[0][2]
        assert list(d.instances()) == ["host-1"]

    drive(scenario)


def test_help_opens_and_closes() -> None:
    async def scenario(d: Harness) -> None:
        await d.press("question_mark")
        assert isinstance(d.app.screen, HelpScreen)
        await d.press("escape")
        assert not isinstance(d.app.screen, HelpScreen)

    drive(scenario)


def test_q_quits_with_exit_code_0() -> None:
    async def scenario(d: Harness) -> None:
        await d.pilot.press("q")
        await d.pilot.pause()
        assert d.app.return_code == 0
        assert not d.app.is_running

    drive(scenario)
