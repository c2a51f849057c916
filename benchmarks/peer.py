"""The best Python peer, llm-sandbox, in a virtualenv of its own.

The benchmark installs it (and py-spy, for ``--profile``) into
``benchmarks/.peer-venv`` on first use; it is never a dependency of the engine.
It runs on an image derived from the worker image: the agent entrypoint removed,
a ``python`` command and the virtualenv a pooled session expects added, and a PID 1
that exits on SIGTERM at once (so ``docker stop`` at the end of a session does not
wait out its 10 s grace; that would be the image's fault, not the library's).
The measurement itself is :mod:`benchmarks.peer_llm_sandbox`, run by the peer
virtualenv's Python in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import BenchError
from benchmarks.dockerctl import BENCH_LABEL, docker
from benchmarks.programs import find

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
LLM_SANDBOX = "llm-sandbox[docker]==0.3.46"
PY_SPY = "py-spy==0.4.3"
PEER_IMAGE = "code-engine-bench-peer:latest"
PEER_TIMEOUT_S = 900.0

_DOCKERFILE = """\
FROM {base}
ENTRYPOINT []
RUN mkdir -p /usr/local/bin /sandbox \\
 && ln -sf /usr/bin/python3 /usr/local/bin/python \\
 && python3 -m venv --without-pip --system-site-packages /sandbox/.sandbox-venv
CMD ["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]
"""


def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def ensure_venv(requirements: list[str], say: Callable[[str], None]) -> Path:
    """The peer virtualenv's Python, with ``requirements`` installed (pip, first use only).

    Raises:
        BenchError: the virtualenv could not be made or pip failed.
    """
    marker = PEER_VENV / ".installed"
    python = peer_python()
    if not python.exists():
        say(f"creating {PEER_VENV}")
        _call([sys.executable, "-m", "venv", str(PEER_VENV)], "creating the peer virtualenv")
    have = set(marker.read_text().split()) if marker.exists() else set()
    missing = [r for r in requirements if r not in have]
    if missing:
        say(f"pip install {' '.join(missing)} into {PEER_VENV}")
        _call([str(python), "-m", "pip", "install", "-q", *missing], "pip install")
        marker.write_text("\n".join(sorted(have | set(missing))) + "\n")
    return python


def _call(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
        raise BenchError(f"{what} failed ({done.returncode}):\n{output}")


def build_image(base: str) -> str:
    """Build (or find cached) the peer image from ``base``; returns its tag."""
    try:
        docker(
            "build",
            "-q",
            "--label",
            f"{BENCH_LABEL}=peer-image",
            "-t",
            PEER_IMAGE,
            "-",
            stdin=_DOCKERFILE.format(base=base).encode(),
            timeout=300,
        )
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"building {PEER_IMAGE} failed: {exc.stderr.decode()[-1000:]}") from None
    return PEER_IMAGE


def measure(
    base_image: str,
    run_id: str,
    runs: dict[str, int],
    say: Callable[[str], None],
    pool_size: int = 2,
) -> dict[str, Any]:
    """Install, build, and run the peer measurement; returns its JSON result.

    Raises:
        BenchError: any step failed.
    """
    python = ensure_venv([LLM_SANDBOX], say)
    image = build_image(base_image)
    spec = {
        "image": image,
        "label": [BENCH_LABEL, run_id],
        "pool_size": pool_size,
        "programs": {
            kind: {"code": program.source, "expected": program.expected}
            for kind in ("hello", "cpu")
            for program in [find("python", kind)]
        },
        "runs": runs,
    }
    script = HERE / "peer_llm_sandbox.py"
    process = subprocess.Popen(
        [str(python), "-I", str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,  # its progress lines go straight to ours
        start_new_session=True,  # Ctrl-C reaches us only; we stop it ourselves
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out, _ = process.communicate(json.dumps(spec).encode(), timeout=PEER_TIMEOUT_S)
    except BaseException:
        _stop(process)
        raise
    if process.returncode != 0:
        raise BenchError(f"the llm-sandbox measurement exited {process.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
