"""Every state and verdict the wire can carry has its look on the dashboard."""

from __future__ import annotations

import enum

import pytest
from rich.style import Style
from tui_harness import Harness, drive, job, snapshot

from tui import formatting as fmt
from tui.widgets.status_breakdown import StatusBreakdown
from wire.admin import EngineState
from wire.stats import ContainerState, Counters
from wire.status import Status


@pytest.mark.parametrize(
    ("members", "styles"),
    [
        (Status, fmt.STATUS_STYLES),
        (EngineState, fmt.STATE_STYLES),
        (ContainerState, fmt.CONTAINER_STYLES),
    ],
    ids=["status", "engine-state", "container-state"],
)
def test_every_member_of_the_wire_enum_has_a_style(
    members: type[enum.Enum], styles: dict[enum.Enum, str]
) -> None:
    # A verdict or state added to the wire without a style here fails this.
    assert set(styles) == set(members)
    for member, style in styles.items():
        assert style, member
        Style.parse(style)  # raises on a misspelt style


def test_every_status_reaches_the_log_and_the_breakdown() -> None:
    async def scenario(d: Harness) -> None:
        every = {status: n + 1 for n, status in enumerate(Status)}
        jobs = [job(f"j-{n}", status=status) for n, status in enumerate(Status)]
        await d.push(snapshot("host-1", counters=Counters(by_status=every), recent=jobs))
        shown = [line.split()[3] for line in d.log_lines()]
        assert shown == [str(status) for status in Status]
        assert d.app.query_one(StatusBreakdown).counters == Counters(by_status=every)

    drive(scenario)
