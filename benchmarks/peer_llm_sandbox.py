"""Measure llm-sandbox; runs under the peer virtualenv's Python, never under the engine's.

Reads a JSON spec on stdin and writes the measurements (milliseconds) as JSON on
stdout; progress goes to stderr. Only the standard library and llm-sandbox are
imported here, so nothing of the engine's environment mixes with the peer's.

Spec::

    {"image": str, "label": [key, value], "pool_size": int,
     "programs": {"hello": {"code": str, "expected": str}, "cpu": {...}},
     "runs": {"pooled": int, "open_session": int, "session_per_run": int, "warmup": int}}

Modes, each the documented way of using the library:

* ``pooled``: a new ``SandboxSession(pool=...)`` per request on a pre-warmed
  container pool (acquire, run, release);
* ``open_session``: ``run()`` again and again on one pooled session left open
  (the library's floor: one file copy plus ``docker exec`` calls per run);
* ``session_per_run``: a new ``SandboxSession`` per request (a container each).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from llm_sandbox import SandboxSession
from llm_sandbox.pool import PoolConfig, create_pool_manager


def log(text: str) -> None:
    print(f"llm-sandbox: {text}", file=sys.stderr, flush=True)


def timed(runs: int, once: Callable[[], None]) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        once()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def check(result: Any, expected: str) -> None:
    stdout = (result.stdout or "").strip()
    if result.exit_code != 0 or stdout != expected:
        raise RuntimeError(f"unexpected result: exit {result.exit_code}, stdout {stdout[:80]!r}")


def main() -> int:
    spec = json.load(sys.stdin)
    image: str = spec["image"]
    key, value = spec["label"]
    runs: dict[str, int] = spec["runs"]
    programs: dict[str, dict[str, str]] = spec["programs"]

    def runtime_configs() -> dict[str, Any]:
        return {"network_mode": "none", "labels": {key: value}}

    results: dict[str, Any] = {
        "version": version("llm-sandbox"),
        "pooled": {},
        "open_session": {},
        "session_per_run": {},
    }
    start = time.perf_counter()
    pool = create_pool_manager(
        backend="docker",
        config=PoolConfig(
            max_pool_size=spec["pool_size"],
            min_pool_size=spec["pool_size"],
            enable_prewarming=True,
        ),
        lang="python",
        image=image,
        runtime_configs=runtime_configs(),
        # The image carries the interpreter and the venv the pool would create
        # (there is no network to upgrade pip from).
        skip_environment_setup=True,
    )
    # Pre-warming runs in the background: measure only once the pool is full.
    while pool.get_stats()["state_counts"].get("idle", 0) < spec["pool_size"]:
        if time.perf_counter() - start > 120:
            raise RuntimeError(f"pool not warm after 120 s: {pool.get_stats()}")
        time.sleep(0.05)
    results["pool_warm_ms"] = (time.perf_counter() - start) * 1000
    try:
        for name, program in programs.items():

            def pooled(program: dict[str, str] = program) -> None:
                with SandboxSession(pool=pool, lang="python") as session:
                    check(session.run(program["code"]), program["expected"])

            timed(runs["warmup"], pooled)
            log(f"pooled {name}")
            results["pooled"][name] = timed(runs["pooled"], pooled)

            with SandboxSession(pool=pool, lang="python") as session:

                def again(session: Any = session, program: dict[str, str] = program) -> None:
                    check(session.run(program["code"]), program["expected"])

                timed(runs["warmup"], again)
                log(f"open session {name}")
                results["open_session"][name] = timed(runs["open_session"], again)
    finally:
        pool.close()

    hello = programs["hello"]

    def fresh() -> None:
        with SandboxSession(
            lang="python",
            image=image,
            runtime_configs=runtime_configs(),
            skip_environment_setup=True,
        ) as session:
            check(session.run(hello["code"]), hello["expected"])

    timed(runs["warmup"], fresh)
    log("session per run hello")
    results["session_per_run"]["hello"] = timed(runs["session_per_run"], fresh)
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
