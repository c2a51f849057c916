"""Two engines side by side: a change's before and after, measured in one run.

    .venv/bin/python -m benchmarks.ab --before-root ../checkout-of-main \\
        --before-image code-engine-worker:latest --after-image code-engine-worker:new \\
        [--requests 200] [--program python:hello --program javascript:hello] [--cold]

Starts a daemon of each checkout (the "before" one from ``--before-root``, the
"after" one from this checkout), each on its own nats-server with its own
worker image, then sends each program's requests back to back, one at a time,
alternating between the two (before, after, before, ...), so that both see the
same background load. Prints each program's end-to-end and run-step p50 and
p95 for both, and the difference of the p50s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.figures import ms, percentile, table
from benchmarks.programs import Program, find, timed_run
from benchmarks.services import engine
from engine_client import EngineClient
from service.testing import harness

WARMUP = 4  # requests per engine and program before any is counted
# A wall limit other than the default: runs at other limits than the warm ones start cold.
COLD_TIMEOUT_MS = 9000


@contextlib.contextmanager
def _engine_of(root: Path, workdir: Path, image: str) -> Iterator[str]:
    """A daemon of the checkout ``root`` on worker image ``image``; its NATS URL."""
    own = harness.ROOT
    harness.ROOT = root  # the daemon's process starts in (and imports from) that checkout
    try:
        with engine(workdir, {"CODE_ENGINE_IMAGE": image}) as (nats, _):
            harness.ROOT = own
            yield nats.url
    finally:
        harness.ROOT = own


async def _measure(
    urls: list[str], programs: list[Program], requests: int, fields: dict[str, Any]
) -> dict[str, list[tuple[list[float], list[float]]]]:
    clients = [await EngineClient.connect(url) for url in urls]
    found: dict[str, list[tuple[list[float], list[float]]]] = {}
    try:
        for program in programs:
            samples: list[tuple[list[float], list[float]]] = [([], []) for _ in clients]
            for n in range(WARMUP + requests):
                for index, client in enumerate(clients):
                    elapsed, reply = await timed_run(client, program, **fields)
                    if n >= WARMUP:
                        samples[index][0].append(elapsed)
                        samples[index][1].append(float(reply["execution_time_ms"]))
            found[program.label] = samples
    finally:
        for client in clients:
            await client.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-root", type=Path, required=True)
    parser.add_argument("--before-image", default="code-engine-worker:latest")
    parser.add_argument(
        "--after-image", default=os.environ.get("CODE_ENGINE_IMAGE", "code-engine-worker:latest")
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--program", action="append", default=[], help="language:kind")
    parser.add_argument(
        "--cold", action="store_true", help="requests at other limits: no warm start"
    )
    args = parser.parse_args(argv)
    wanted = args.program or ["python:hello", "javascript:hello"]
    programs = [find(*label.split(":", 1)) for label in wanted]
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-ab-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        (work / "before").mkdir()
        (work / "after").mkdir()
        before = stack.enter_context(
            _engine_of(args.before_root.resolve(), work / "before", args.before_image)
        )
        after = stack.enter_context(_engine_of(harness.ROOT, work / "after", args.after_image))
        fields: dict[str, Any] = {"timeout_ms": COLD_TIMEOUT_MS} if args.cold else {}
        found = asyncio.run(_measure([before, after], programs, args.requests, fields))
    rows = []
    for label, ((b_e2e, b_run), (a_e2e, a_run)) in found.items():
        for name, e2e, run in (("before", b_e2e, b_run), ("after", a_e2e, a_run)):
            rows.append(
                (
                    label,
                    name,
                    ms(percentile(e2e, 50)),
                    ms(percentile(e2e, 95)),
                    ms(percentile(run, 50)),
                    ms(percentile(run, 95)),
                )
            )
        delta = percentile(a_e2e, 50) - percentile(b_e2e, 50)
        rows.append((label, "after - before (p50)", f"{delta:+.2f} ms", "", "", ""))
    title = (
        f"{args.requests} {'cold ' if args.cold else ''}requests per program and engine, "
        "alternating "
        f"(before: {args.before_root} on {args.before_image}; after: this checkout on "
        f"{args.after_image})"
    )
    print(table(title, ("program", "engine", "e2e p50", "e2e p95", "run p50", "run p95"), rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
