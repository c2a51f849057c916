"""The main screen's panels: found, placed by LAYOUT, and each given every view."""

from __future__ import annotations

import pytest
from textual.widget import Widget
from tui_harness import Harness, drive, job, snapshot

import tui.widgets
from tui.model import Fleet, Link, ManualClock, View
from tui.widgets import LAYOUT, LayoutError, Panel, layout, panels


def test_every_panel_found_is_placed_once() -> None:
    rows = layout()
    assert [[panel.PANEL_ID for panel in row] for row in rows] == [list(row) for row in LAYOUT]
    assert sorted(panels()) == sorted(name for row in LAYOUT for name in row)


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ((("instances", "throughput"), ("nowhere",)), "no panel has the id nowhere"),
        ((("instances",),), "not in LAYOUT: connection, containers"),
        ((("instances", "instances"),), "more than once: instances"),
    ],
)
def test_a_layout_that_does_not_match_the_panels_is_refused(
    monkeypatch: pytest.MonkeyPatch, rows: tuple[tuple[str, ...], ...], error: str
) -> None:
    monkeypatch.setattr(tui.widgets, "LAYOUT", rows)
    with pytest.raises(LayoutError, match=error):
        layout()


def test_the_view_carries_the_selected_instance_and_its_jobs() -> None:
    fleet = Fleet(ManualClock(10.0))
    fleet.apply(snapshot("host-1", recent=[job("a1"), job("a2")]))
    fleet.apply(snapshot("host-2", recent=[job("b1")]))
    fleet.apply(snapshot("host-1", recent=[job("a3")]))
    view = fleet.view("host-1", Link(True, "connected"))
    assert [s.id for s in view.instances] == ["host-1", "host-2"]
    assert view.selected is not None and view.selected.id == "host-1"
    assert [j.id for j in view.jobs] == ["a1", "a2", "a3"] and view.jobs_seen == 3
    assert view.link == Link(True, "connected")
    nobody = fleet.view("host-9", Link())
    assert nobody.selected is None and nobody.jobs == () and nobody.jobs_seen == 0


class Probe(Panel):
    """A panel that remembers every view it was shown."""

    PANEL_ID = "probe"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: list[View] = []

    def show(self, view: View) -> None:
        self.views.append(view)


def test_a_panel_in_the_layout_is_composed_and_shown_every_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = panels()
    monkeypatch.setattr(tui.widgets, "panels", lambda: {**found, "probe": Probe})
    monkeypatch.setattr(tui.widgets, "LAYOUT", (*LAYOUT, ("probe",)))

    async def scenario(d: Harness) -> None:
        probe = d.app.query_one("#probe", Widget)
        assert isinstance(probe, Probe)
        await d.push(snapshot("host-1", recent=[job("j-1")]))
        assert probe.views[-1].selected is not None
        assert probe.views[-1].selected.id == "host-1"
        assert [j.id for j in probe.views[-1].jobs] == ["j-1"]
        d.source.disconnect()
        await d.pilot.pause()
        assert probe.views[-1].link.connected is False

    drive(scenario)


def test_the_job_log_shows_each_job_once_however_often_it_is_shown() -> None:
    async def scenario(d: Harness) -> None:
        await d.push(snapshot("host-1", recent=[job("j-1"), job("j-2")]))
        await d.tick(0.5)  # the liveness check shows the same view again
        await d.tick(0.5)
        await d.push(snapshot("host-1", recent=[job("j-3")]))
        await d.tick(0.5)
        assert [line.split()[1] for line in d.log_lines()] == ["j-1", "j-2", "j-3"]

    drive(scenario)
