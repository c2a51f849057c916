"""Write an SVG screenshot of the dashboard showing made-up but believable data.

python -m tui.screenshot docs/dashboard.svg [--size 120x40]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from .app import DashboardApp
from .demo import GONE_AT, demo_feed
from .model import ManualClock
from .source import FakeStatsSource


async def load_demo(
    app: DashboardApp, pilot: Pilot[Any], source: FakeStatsSource, clock: ManualClock
) -> None:
    """Feed the demo's two minutes of stats to a running dashboard, quickly.

    The dashboard reads the clock when it handles a snapshot, so the clock is moved
    only at the two moments that matter: before one instance falls silent and at the end.
    """
    start = clock.now
    for t, snapshots in demo_feed():
        if t == GONE_AT:
            await pilot.pause()
        clock.now = start + t
        for snapshot in snapshots:
            source.push(snapshot)
    await pilot.pause()
    clock.advance(1.0)
    app.check_liveness()
    await pilot.pause()


async def screenshot(size: tuple[int, int] = (120, 40)) -> str:
    """Run the dashboard headless on the demo feed and return its screen as SVG."""
    clock = ManualClock(1000.0)
    source = FakeStatsSource()
    app = DashboardApp(source, clock=clock)
    async with app.run_test(size=size) as pilot:
        await load_demo(app, pilot, source, clock)
        await pilot.press("tab", "down")
        await pilot.pause()
        return app.export_screenshot(title="code-engine tui")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.screenshot", description=__doc__)
    parser.add_argument("path", type=Path, help="where to write the SVG")
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.lower().split("x"))
    svg = asyncio.run(screenshot((width, height)))
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(svg, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
