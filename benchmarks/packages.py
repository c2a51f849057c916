"""``code-engine verify`` against problemtools' ``verifyproblem`` on one package,
and how verify's wall time goes with the containers behind it.

    .venv/bin/python -m benchmarks.packages PACKAGE --verifyproblem PATH [--runs 3]

PACKAGE must be one both read (problemtools reads the legacy layout and
2023-07, with a problem statement). Each tool runs ``--runs`` times; verify
runs against a real nats-server and a daemon of 1, 2 and 4 containers
(CODE_ENGINE_WORKERS = CODE_ENGINE_CONCURRENCY = n), started for each. For
Python submissions problemtools needs a language override (its default is
PyPy), e.g. XDG_CONFIG_HOME holding ``problemtools/languages.yaml`` with
``python3: {compile: 'python3 -m py_compile {files}', run: 'python3 "{mainfile}"'}``.
Prints the wall times (s) of each run and their medians, as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from service.testing.harness import Daemon
from service.testing.nats_servers import NatsServer

CONTAINERS = (1, 2, 4)


def _timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    return time.monotonic() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--verifyproblem", required=True, help="problemtools' verifyproblem")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {}
    times["verifyproblem"] = [
        round(_timed([args.verifyproblem, str(args.package)])[0], 2) for _ in range(args.runs)
    ]
    verify = [sys.executable, "-m", "service.cli", "verify", str(args.package), "--json"]
    with tempfile.TemporaryDirectory() as tmp:
        nats = NatsServer(Path(tmp))
        try:
            for n in CONTAINERS:
                settings = {"CODE_ENGINE_WORKERS": str(n), "CODE_ENGINE_CONCURRENCY": str(n)}
                daemon = Daemon(nats.url, Path(tmp) / f"daemon-{n}.log", settings)
                try:
                    runs = []
                    for _ in range(args.runs):
                        seconds, done = _timed([*verify, "--nats", nats.url])
                        if done.returncode != 0:
                            raise SystemExit(f"verify failed:\n{done.stdout}{done.stderr}")
                        runs.append(round(seconds, 2))
                    times[f"verify, {n} containers"] = runs
                finally:
                    daemon.stop()
        finally:
            nats.stop()
    medians = {name: statistics.median(runs) for name, runs in times.items()}
    print(json.dumps({"runs": times, "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
