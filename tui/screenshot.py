"""Write an SVG screenshot of the dashboard: of live engines, or of made-up data.

python -m tui.screenshot docs/dashboard.svg --nats nats://127.0.0.1:4222 [--seconds 20]
python -m tui.screenshot docs/dashboard.svg            (the demo feed, no engine needed)
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
from .source import FakeStatsSource, NatsStatsSource


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


async def live_screenshot(url: str, seconds: float, size: tuple[int, int] = (120, 40)) -> str:
    """Watch the engines on ``url`` for ``seconds``, then return the screen as SVG."""
    app = DashboardApp(NatsStatsSource(url))
    async with app.run_test(size=size) as pilot:
        await pilot.pause(seconds)
        await pilot.press("tab")
        await pilot.pause(1.0)
        return app.export_screenshot(title="code-engine tui")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.screenshot", description=__doc__)
    parser.add_argument("path", type=Path, help="where to write the SVG")
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    parser.add_argument("--nats", help="watch live engines on this NATS server")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to watch them")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.lower().split("x"))
    if args.nats:
        svg = asyncio.run(live_screenshot(args.nats, args.seconds, (width, height)))
    else:
        svg = asyncio.run(screenshot((width, height)))
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(svg, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
