"""Soak: the engine at saturation for minutes, with a mix of languages and hostile jobs.

    .venv/bin/python -m benchmarks.soak [--minutes 10] [--clients 8] [--json PATH]

Starts its own nats-server and daemon, keeps ``--clients`` requests in flight at
all times (so the queue never drains), and prints per minute: requests sent,
answered, lost (no reply within the client timeout: must be 0), busy replies,
latency p50/p99, and the daemon's resident memory (must stay flat). Everything
it started is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.figures import percentile, table
from benchmarks.procstat import rss_kb
from benchmarks.services import engine
from engine_client import EngineClient, EngineClientError

CLIENT_TIMEOUT_S = 120.0

# (weight, language, code, timeout_ms): ordinary programs and the hostile ones
# that exercise every limit and the cleanup between jobs.
MIX: list[tuple[int, str, str, int | None]] = [
    (30, "python", "print(sum(range(100000)))", None),
    (10, "javascript", "console.log([1, 2, 3].map(x => x * 2).join(','))", None),
    (8, "go", 'package main\nimport "fmt"\nfunc main() { fmt.Println(42) }\n', None),
    (8, "cpp", '#include <cstdio>\nint main() { std::puts("42"); }\n', None),
    (6, "python", "while True: pass", 1000),
    (4, "python", "x = bytearray(1 << 30)", None),
    (4, "python", "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", 1500),
    (4, "python", "while True: print('y' * 1000)", None),
    (3, "javascript", "while (true) {}", 1000),
    (
        3,
        "python",
        "import subprocess\nsubprocess.Popen(['sleep', '600'], start_new_session=True)"
        "\nopen('/tmp/left', 'w').write('x')",
        None,
    ),
    (
        2,
        "cpp",
        "#include <vector>\nint main() { std::vector<char*> v; for (;;) "
        "{ char* p = new char[1 << 24]; for (int i = 0; i < (1 << 24); i += 4096) "
        "p[i] = 1; v.push_back(p); } }\n",
        5000,
    ),
]


@dataclass
class Minute:
    sent: int = 0
    answered: int = 0
    lost: int = 0
    busy: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)


class Soak:
    def __init__(self, url: str, daemon_pid: int, minutes: float, clients: int) -> None:
        self.url = url
        self.daemon_pid = daemon_pid
        self.duration_s = minutes * 60
        self.clients = clients
        self.minutes: list[Minute] = []
        self._start = 0.0
        weights = [w for w, *_ in MIX]
        self._choices = random.Random(7).choices(range(len(MIX)), weights, k=1_000_000)
        self._next = 0

    def _minute(self) -> Minute:
        index = int((time.monotonic() - self._start) // 60)
        while len(self.minutes) <= index:
            self.minutes.append(Minute())
        return self.minutes[index]

    async def _client(self, engine: EngineClient) -> None:
        while time.monotonic() - self._start < self.duration_s:
            _, language, code, timeout_ms = MIX[self._choices[self._next % len(self._choices)]]
            self._next += 1
            minute = self._minute()
            minute.sent += 1
            sent = time.monotonic()
            try:
                reply = await engine.execute(
                    language, code, timeout_ms=timeout_ms, timeout=CLIENT_TIMEOUT_S
                )
            except EngineClientError:
                minute.lost += 1
                continue
            minute.answered += 1
            minute.statuses[reply["status"]] += 1
            minute.busy += reply["status"] == "busy"
            minute.latencies_ms.append((time.monotonic() - sent) * 1000)

    async def _memory(self) -> None:
        while time.monotonic() - self._start < self.duration_s:
            rss = rss_kb(self.daemon_pid)
            if rss is not None:
                self._minute().rss_mb.append(rss / 1024)
            await asyncio.sleep(5)

    async def run(self) -> None:
        async with await EngineClient.connect(self.url) as engine:
            self._start = time.monotonic()
            await asyncio.gather(
                self._memory(), *(self._client(engine) for _ in range(self.clients))
            )

    def report(self) -> str:
        rows = []
        for index, m in enumerate(self.minutes):
            lat = m.latencies_ms or [0.0]
            rows.append(
                [
                    index + 1,
                    m.sent,
                    m.answered,
                    m.lost,
                    m.busy,
                    f"{percentile(lat, 50):.0f}",
                    f"{percentile(lat, 99):.0f}",
                    f"{max(m.rss_mb):.1f}" if m.rss_mb else "-",
                ]
            )
        totals = Minute()
        for m in self.minutes:
            totals.sent += m.sent
            totals.answered += m.answered
            totals.lost += m.lost
            totals.statuses.update(m.statuses)
        text = table(
            f"soak: {self.duration_s / 60:g} min, {self.clients} requests in flight",
            ["minute", "sent", "answered", "lost", "busy", "p50 ms", "p99 ms", "daemon RSS MB"],
            rows,
        )
        text += (
            f"\ntotal: sent {totals.sent}, answered {totals.answered}, lost {totals.lost}"
            f"\nstatuses: {dict(totals.statuses.most_common())}\n"
        )
        return text

    def as_json(self) -> dict[str, object]:
        return {
            "minutes": [
                {
                    "sent": m.sent,
                    "answered": m.answered,
                    "lost": m.lost,
                    "busy": m.busy,
                    "statuses": dict(m.statuses),
                    "p50_ms": percentile(m.latencies_ms, 50) if m.latencies_ms else None,
                    "p99_ms": percentile(m.latencies_ms, 99) if m.latencies_ms else None,
                    "rss_mb": m.rss_mb,
                }
                for m in self.minutes
            ]
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8, help="requests kept in flight")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-soak-") as tmp,
        engine(Path(tmp), {}, print) as (server, daemon),
    ):
        soak = Soak(server.url, daemon.pid, args.minutes, args.clients)
        try:
            asyncio.run(soak.run())
        except KeyboardInterrupt:
            print("interrupted; partial results:")
        print(soak.report())
        if args.json:
            args.json.write_text(json.dumps(soak.as_json(), indent=2))
    return 0 if all(m.lost == 0 for m in soak.minutes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
