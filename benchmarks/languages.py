"""Every served language's hello world through the engine, against its own toolchain
run as a bare host process where the host has it, in one run.

    .venv/bin/python -m benchmarks.languages [--requests 15] [--languages all]

The hello world is each language file's own ``hello`` self-test, so a language
added as a file is measured with nothing written here. Per language, the p50
of requests sent one at a time after two warm-ups:

- host: the language's compile (if any) and run commands, the engine's own flags,
  in a fresh directory each time; blank when the host lacks the toolchain;
  host run: the run command's part of that (a compiled program's run alone);
- warm: the engine's default (warm interpreters where the language has them;
  a compiled language's same source again, which the compile cache answers),
  back to back: every job's container starts its next warm process (a JVM's
  start is some 100 ms of CPU) while the other jobs run, on the same cores;
- idle: the same with the engine idle between requests (IDLE_GAP_S), what a
  request meets when the engine is not saturated (languages with warm starts);
- cold: ``CODE_ENGINE_WARM_STARTS=0`` (interpreted languages only);
- new source: a compiled language's source made unique every request (trailing
  blank lines, neutral in every language), so every request compiles.

warm/host compares the warm figure with the host's run alone (the compile cache
answered the engine's compile), the last column the cold or new-source figure
with the host's compile and run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from benchmarks import host
from benchmarks.figures import ms, percentile, ratio, table
from benchmarks.programs import Program, missing_host_tool, timed_run
from benchmarks.services import engine
from engine_client import EngineClient
from service.languages import ALL, Language, lookup, select, serve

WARM_UPS = 2
IDLE_GAP_S = 0.5
COLUMNS = ["language", "host", "host run", "warm", "idle", "cold", "new source"]
COLUMNS += ["warm/host run", "idle/host run", "cold or new/host"]


def hello(language: Language) -> Program | None:
    """The language's ``hello`` self-test as a program, or None if its file has none."""
    tests = language.data.tests if language.data else ()
    found = next((test for test in tests if test.name == "hello"), None)
    if found is None or found.stdout is None or found.status != "ok":
        return None
    return Program(language.name, "hello", found.code, found.stdout.strip())


def unique(source: str, n: int) -> str:
    """``source`` made unique for request ``n`` by blank lines only (valid in any language)."""
    return source + "\n" + " " * (n % 40) + "\n" * (n // 40 + 1)


async def _measure(
    url: str, programs: list[Program], requests: int, *, new_sources: bool, gap_s: float
) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    async with await EngineClient.connect(url) as client:
        for program in programs:
            if new_sources and not program.compiled:
                continue
            samples = []
            for n in range(requests + WARM_UPS):
                source = unique(program.source, n) if new_sources else program.source
                await asyncio.sleep(gap_s)
                elapsed, _ = await timed_run(client, program, source, wait_s=300)
                if n >= WARM_UPS:
                    samples.append(elapsed)
            found[program.language] = samples
    return found


def _engine(
    env: dict[str, str],
    programs: list[Program],
    requests: int,
    *,
    new_sources: bool = False,
    gap_s: float = 0.0,
) -> dict[str, list[float]]:
    with (
        tempfile.TemporaryDirectory(prefix="code-engine-languages-") as tmp,
        engine(Path(tmp), {"CODE_ENGINE_WORKERS": "2", **env}) as (server, _daemon),
    ):
        measured = _measure(server.url, programs, requests, new_sources=new_sources, gap_s=gap_s)
        return asyncio.run(measured)


def _warm_start(program: Program) -> bool:
    language = lookup(program.language)
    return language is not None and language.warm_launcher is not None


def _p50(samples: list[float] | None) -> float | None:
    return percentile(samples, 50) if samples else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.languages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=15, help="requests per language and mode")
    parser.add_argument(
        "--languages", default=ALL, help="as CODE_ENGINE_LANGUAGES (default: all but opt-in)"
    )
    args = parser.parse_args(argv)
    languages = select(args.languages)
    serve(languages)
    programs = [p for p in (hello(language) for language in languages) if p is not None]
    env = {"CODE_ENGINE_LANGUAGES": args.languages}
    bare: dict[str, list[float]] = {}
    bare_runs: dict[str, list[float]] = {}
    for program in programs:
        if missing_host_tool(program) is not None:
            continue
        try:
            runs = host.sequential(program, args.requests)
            bare[program.language] = [r.total_ms for r in runs]
            bare_runs[program.language] = [r.run_ms for r in runs]
        except Exception as exc:  # the host's toolchain differs from the image's (flags, libs)
            print(f"host: {program.label}: {exc}")
    warm = _engine(env, programs, args.requests)
    warmed = [program for program in programs if _warm_start(program)]
    idle = _engine(env, warmed, args.requests, gap_s=IDLE_GAP_S) if warmed else {}
    cold = _engine({**env, "CODE_ENGINE_WARM_STARTS": "0"}, programs, args.requests)
    new = _engine(env, programs, args.requests, new_sources=True)
    rows = []
    for program in programs:
        name = program.language
        base, base_run, warm_e2e = _p50(bare.get(name)), _p50(bare_runs.get(name)), _p50(warm[name])
        idle_e2e = _p50(idle.get(name))
        cold_e2e = None if program.compiled else _p50(cold[name])
        new_e2e = _p50(new.get(name))
        rows.append(
            [
                name,
                ms(base) if base is not None else "no host tool",
                ms(base_run) if base_run is not None and program.compiled else "",
                ms(warm_e2e),
                ms(idle_e2e) if idle_e2e is not None else "",
                ms(cold_e2e) if cold_e2e is not None else "",
                ms(new_e2e) if new_e2e is not None else "",
                # The host's run alone: an interpreted program's is its whole host figure.
                ratio(warm_e2e, base_run),
                ratio(idle_e2e, base_run) if idle_e2e is not None else "",
                ratio(new_e2e if program.compiled else cold_e2e, base),
            ]
        )
    print(
        table(
            f"hello world per language: p50 over {args.requests} requests one at a time (ms)",
            COLUMNS,
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
