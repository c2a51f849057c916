"""The engine's performance targets, and whether a run met each.

Against llm-sandbox pooled (>= 10x faster), the bare host (end to end p50 <= 1.5x for
interpreted and 1.3x for compiled programs, throughput >= 70 % of a host process pool),
the engine's own overhead per request (p50 <= 3 ms), and the daemon's CPU per job and
memory over many jobs.
"""

from __future__ import annotations

from typing import Any

from benchmarks.figures import dig, ms, stat
from benchmarks.programs import PROGRAMS

HELLO = "python hello"
# A daemon whose RSS grows by less than this over the run counts as flat.
FLAT_KB = 2048
FLAT_SHARE = 0.02


def host_p50(results: dict[str, Any], label: str) -> float | None:
    return stat(dig(results, "host", "sequential", label, "total"))


def rate(data: Any, who: str) -> float | None:
    value = dig(data, who, "jobs_per_s")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def share(engine: float | None, host: float | None) -> str:
    return f"{engine / host:.0%}" if engine and host else "n/a"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def _lifted(
    results: dict[str, Any], label: str, base: float | None, limit: float
) -> list[list[str]]:
    lifted = stat(dig(results, "engine_uncapped", label, "e2e"))
    if lifted is None or not base:
        return []
    return [
        [
            f"  the same with the CPU cap lifted ({label})",
            f"{ms(lifted)} / {ms(base)} ms = {lifted / base:.2f}x",
            _verdict(lifted / base <= limit),
        ]
    ]


def targets(results: dict[str, Any]) -> list[list[str]]:
    """[target, measured, verdict] rows."""
    rows: list[list[str]] = []
    e2e = stat(dig(results, "engine", "sequential", HELLO, "e2e"))
    pooled = stat(dig(results, "peer", "pooled", "hello"))
    speedup = pooled / e2e if pooled and e2e else None
    rows.append(
        [
            ">= 10x faster than llm-sandbox pooled (python hello p50)",
            f"{ms(pooled)} / {ms(e2e)} ms = {speedup:.1f}x" if speedup else "n/a",
            _verdict(None if speedup is None else speedup >= 10),
        ]
    )
    overheads = dig(results, "engine", "sequential", HELLO, "overhead")
    overhead = stat(overheads)
    rows.append(
        [
            "engine overhead p50 <= 3 ms (python hello)",
            f"{ms(overhead)} ms (p95 {ms(stat(overheads, 'p95'))})",
            _verdict(None if overhead is None else overhead <= 3),
        ]
    )
    for program in PROGRAMS:
        if program.compiled or program.kind != "hello":
            continue
        base = host_p50(results, program.label)
        engine = stat(dig(results, "engine", "sequential", program.label, "e2e"))
        value = engine / base if engine and base else None
        rows.append(
            [
                f"e2e p50 <= 1.5x bare host ({program.label})",
                f"{ms(engine)} / {ms(base)} ms = {value:.2f}x" if value else "n/a",
                _verdict(None if value is None else value <= 1.5),
            ]
        )
        rows += _lifted(results, program.label, base, 1.5)
    concurrency = str(dig(results, "engine", "settings", "concurrency"))
    host_rate = rate(dig(results, "engine", "throughput", concurrency), "host")
    engine_rate = rate(dig(results, "engine", "throughput", concurrency), "engine")
    share = engine_rate / host_rate if host_rate and engine_rate else None
    rows.append(
        [
            f"python hello throughput >= 70% of host pool ({concurrency} in flight)",
            f"{engine_rate:.1f} / {host_rate:.1f} jobs/s = {share:.0%}" if share else "n/a",
            _verdict(None if share is None else share >= 0.7),
        ]
    )
    free = dig(results, "engine_uncapped", "throughput", concurrency)
    free_host, free_engine = rate(free, "host"), rate(free, "engine")
    if free_host and free_engine:
        rows.append(
            [
                "  the same with the CPU cap lifted",
                f"{free_engine:.1f} / {free_host:.1f} jobs/s = {free_engine / free_host:.0%}",
                _verdict(free_engine / free_host >= 0.7),
            ]
        )
    for program in PROGRAMS:
        if not program.compiled:
            continue
        base = host_p50(results, program.label)
        engine = stat(dig(results, "engine", "sequential", program.label, "e2e"))
        value = engine / base if engine and base else None
        rows.append(
            [
                f"compile+run e2e p50 <= 1.3x host ({program.label})",
                f"{ms(engine)} / {ms(base)} ms = {value:.2f}x" if value else "n/a",
                _verdict(None if value is None else value <= 1.3),
            ]
        )
        rows += _lifted(results, program.label, base, 1.3)
    resources = dig(results, "engine", "resources")
    if resources:
        per_job = resources["cpu_ms_per_job"].get("daemon")
        rows.append(["daemon CPU per job (python hello)", f"{per_job:.2f} ms", "(reported)"])
        rss = [kb for _, kb in resources["rss_kb"] if kb is not None]
        if len(rss) >= 3:
            first, last = rss[1], rss[-1]  # from 10 % of the jobs on, past warm-up
            growth = last - first
            flat = growth <= max(FLAT_KB, first * FLAT_SHARE)
            note = "" if resources["jobs"] >= 10_000 else " (run --jobs 10000 for the 10k check)"
            rows.append(
                [
                    f"daemon memory flat over {resources['jobs']} jobs{note}",
                    f"RSS {first} -> {last} KiB ({growth:+d} KiB), max {max(rss)}",
                    _verdict(flat),
                ]
            )
    return rows
