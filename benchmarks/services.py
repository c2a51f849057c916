"""The engine under test: its own nats-server and its own daemon (:mod:`service.testing.harness`).

Both run in their own session, so a Ctrl-C in the terminal reaches only the
benchmark, which then stops them in order (daemon first: it removes its
containers), removes whatever containers carry the daemon's instance label, and
stops the server last.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from benchmarks import BenchError
from service.testing.harness import Daemon, new_instance_id, remove_containers
from service.testing.nats_servers import HarnessError, NatsServer

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


def _quiet(_: str) -> None:
    pass


@contextlib.contextmanager
def engine(
    workdir: Path, env: Mapping[str, str], say: Callable[[str], None] = _quiet
) -> Iterator[tuple[NatsServer, Daemon]]:
    """A nats-server and a daemon (with ``env``) of our own, both stopped on the way out.

    The daemon's log is ``workdir/daemon-<instance>.log``.

    Raises:
        BenchError: the server or the daemon did not start (the daemon's log quoted).
    """
    with contextlib.ExitStack() as stack:
        try:
            # Core NATS only, as the engine's default deployment: the benchmark
            # never uses durable mode, and JetStream on would change what it measures.
            nats = NatsServer(workdir, jetstream=False)
        except HarnessError as exc:
            raise BenchError(str(exc)) from exc
        stack.callback(nats.stop)
        instance = new_instance_id("bench")
        stack.callback(remove_containers, instance)
        say("engine: starting the daemon")
        try:
            daemon = Daemon(
                nats.url,
                workdir / f"daemon-{instance}.log",
                env,
                instance_id=instance,
                ready_timeout=READY_TIMEOUT_S,
            )
        except HarnessError as exc:
            raise BenchError(str(exc)) from exc
        stack.callback(_stop, daemon, say)
        yield nats, daemon


def _stop(daemon: Daemon, say: Callable[[str], None]) -> None:
    say("engine: stopping the daemon")
    code = daemon.stop(timeout=STOP_TIMEOUT_S)
    if code == 0:
        say("engine: the daemon exited 0")
    else:
        say(f"engine: the daemon exited {code}:\n{daemon.log_tail()}")
