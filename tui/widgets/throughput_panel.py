"""Throughput over the last minutes, latency percentiles, queue and worker load, compile cache."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Sparkline, Static

from wire.stats import CompileCache

from .. import formatting as fmt
from ..model import HISTORY_SAMPLES, InstanceState, View
from .panel import Panel

BAR_WIDTH = 16


def _load(label: str, used: int, capacity: int, suffix: str) -> Text:
    text = Text(f"{label:<8}", style="bold")
    text.append_text(fmt.bar(used / capacity if capacity else None, BAR_WIDTH))
    text.append(f" {used}/{capacity} {suffix}")
    return text


def _compile_cache(cache: CompileCache) -> Text:
    """Compiled requests that ran a kept program, of all compiled requests."""
    text = Text("cache   ", style="bold")
    if not cache.capacity_bytes:
        text.append("off", style="dim")
        return text
    compiled = cache.hits + cache.misses
    text.append_text(fmt.bar(cache.hits / compiled if compiled else None, BAR_WIDTH))
    text.append(f" {cache.hits}/{compiled} compiles reused · {cache.entries} kept")
    return text


class ThroughputPanel(Vertical, Panel):
    PANEL_ID = "throughput"
    DEFAULT_CSS = """
    ThroughputPanel {
        height: 10;
        border: round $primary 50%;
        border-title-color: $text-accent;
        padding: 0 1;
    }
    ThroughputPanel > Sparkline {
        height: 3;
        margin-bottom: 1;
    }
    ThroughputPanel > Sparkline > .sparkline--max-color {
        color: $success;
    }
    ThroughputPanel > Sparkline > .sparkline--min-color {
        color: $success 30%;
    }
    ThroughputPanel > Static {
        height: 1;
    }
    """

    instance: reactive[InstanceState | None] = reactive(None)

    def compose(self) -> ComposeResult:
        yield Sparkline([], id="throughput-chart")
        yield Static(id="throughput-rates")
        yield Static(id="throughput-latency")
        yield Static(id="throughput-load")
        yield Static(id="throughput-cache")

    def on_mount(self) -> None:
        self.border_title = f"Throughput, last {HISTORY_SAMPLES // 60} min"

    def show(self, view: View) -> None:
        self.instance = view.selected

    def watch_instance(self, instance: InstanceState | None) -> None:
        if not self.is_mounted:
            return
        chart = self.query_one(Sparkline)
        rates = self.query_one("#throughput-rates", Static)
        latency = self.query_one("#throughput-latency", Static)
        load = self.query_one("#throughput-load", Static)
        cache = self.query_one("#throughput-cache", Static)
        if instance is None:
            chart.data = []
            for line in (rates, latency, load, cache):
                line.update("")
            return
        s = instance.snapshot
        # Padded to a full window, so that the chart reads as a timeline filling from the right.
        padding = [0.0] * (HISTORY_SAMPLES - len(instance.throughput))
        chart.data = padding + list(instance.throughput)
        peak = max(instance.throughput, default=0.0)
        rates.update(
            Text.assemble(
                ("jobs/s  ", "bold"),
                (f"{s.throughput.last_10s:.2f}", "bold green"),
                " (10 s)   ",
                f"{s.throughput.last_60s:.2f} (60 s)   ",
                (f"peak {peak:.2f}", "dim"),
            )
        )
        lat = s.latency_ms
        latency.update(
            Text.assemble(
                ("latency ", "bold"),
                "p50 ",
                (fmt.millis(lat.p50), "cyan"),
                "   p95 ",
                (fmt.millis(lat.p95), "yellow"),
                "   p99 ",
                (fmt.millis(lat.p99), "red"),
            )
        )
        queue_and_workers = _load("queue", s.queue.depth, s.queue.capacity, "queued")
        queue_and_workers.append("   ")
        queue_and_workers.append_text(_load("workers", s.workers.busy, s.workers.total, "busy"))
        load.update(queue_and_workers)
        cache.update(_compile_cache(s.compile_cache))
        self.border_subtitle = f"{s.throughput.last_10s:.2f} jobs/s"
