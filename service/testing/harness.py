"""A real daemon as a child process, and what it publishes, for tests and benchmarks.

Its NATS server is :mod:`service.testing.nats_servers`'s.

::

    with NatsServer(directory) as nats:                 # ready: its /healthz answers ok
        daemon = Daemon(nats.url, directory / "d.log")  # ready: its first stats snapshot
        wait_for_stats(daemon, lambda s: s["workers"]["busy"] == 3, what="three running")
        assert daemon.stop() == 0

Readiness is asked of the processes themselves, never read from their logs. The
daemon counts as ready at its first snapshot on ``code-engine.stats.<instance>``:
the stats publisher starts after the intake has subscribed to every subject (the
durable consumer included), and the snapshot travels the same connection after
those subscriptions, so whoever receives it can send work. A ``$SRV.PING`` answer
would come too early: the service subjects are subscribed before the execute ones.

Tests wait on what the engine publishes with :func:`wait_for_stats`; a timeout
shows the last snapshot seen. The daemon's output goes to a log file, quoted when
it fails to start or exits.

The API is synchronous (NATS through :func:`asyncio.run`), for test functions,
fixtures and the benchmarks' drivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from pathlib import Path
from typing import Any

import nats

from service.config import Settings
from service.testing.nats_servers import HarnessError, NotReady, StoppedOnExit, stop_process
from service.testing.waiting import wait_until
from wire.subjects import STATS_PREFIX, stats_subject

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_LABEL = "org.code-engine.instance"

Snapshot = dict[str, Any]
Predicate = Callable[[Snapshot], object]


class StatsTimeout(HarnessError):
    """No snapshot met the condition in time; ``last`` is the last one seen (or None)."""

    def __init__(self, instance: str, what: str, timeout: float, last: Snapshot | None) -> None:
        self.instance = instance
        self.what = what
        self.last = last
        shown = "none arrived" if last is None else json.dumps(_brief(last), indent=1)
        super().__init__(
            f"{instance}: no stats snapshot with {what or 'the condition'} within {timeout} s; "
            f"the last snapshot: {shown}"
        )


def _brief(snapshot: Snapshot) -> Snapshot:
    # The fifty most recent jobs would bury what a failure message is about.
    recent = snapshot.get("recent")
    if isinstance(recent, list) and len(recent) > 3:
        return {**snapshot, "recent": [*recent[-3:], f"... {len(recent) - 3} more"]}
    return snapshot


_started: list[Daemon] = []


def new_instance_id(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Daemon(StoppedOnExit):
    """``python -m service serve`` against ``nats_url``, its output in ``log_path``.

    The environment is the caller's (``CODE_ENGINE_IMAGE`` included), then ``env``,
    then ``NATSURL`` and the instance id (``instance_id``, else
    ``CODE_ENGINE_INSTANCE_ID`` from ``env``, else a fresh ``test-xxxxxxxx``; with
    ``default_id`` none is given and the daemon picks its default, learnt from its
    first snapshot; with ``embedded`` the daemon starts its own nats-server on the
    port of ``nats_url``). It runs in its own session from the checkout this module belongs to.
    The constructor returns once the daemon is ready (its first stats snapshot),
    with the time that took in ``ready_s``.

    Raises:
        NotReady: the daemon exited or was not ready within ``ready_timeout``
            (it is stopped first); the message quotes its log.
    """

    def __init__(
        self,
        nats_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        instance_id: str | None = None,
        default_id: bool = False,
        embedded: bool = False,
        ready_timeout: float = 180.0,
    ) -> None:
        env = dict(env or {})
        self.nats_url = nats_url
        self.instance_id = (
            instance_id or env.pop("CODE_ENGINE_INSTANCE_ID", None) or new_instance_id()
        )
        self.environ = {
            **os.environ,
            **env,
            "NATSURL": nats_url,
            "CODE_ENGINE_INSTANCE_ID": self.instance_id,
        }
        if embedded:
            # The daemon runs its own nats-server on the port of ``nats_url``.
            del self.environ["NATSURL"]
            self.environ["CODE_ENGINE_EMBEDDED_NATS_PORT"] = nats_url.rsplit(":", 1)[1]
        if default_id:
            del self.environ["CODE_ENGINE_INSTANCE_ID"]
            self.instance_id = ""
        self.log_path = log_path
        self.signalled = False
        self._log = open(log_path, "wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            env=self.environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        others = {d.instance_id for d in _started if d.alive()}
        _started.append(self)
        try:
            if default_id:
                self.instance_id = _first_new_instance(self, others, ready_timeout)
            wait_for_stats(self, lambda _: True, timeout=ready_timeout, what="anything")
        except StatsTimeout:
            self.stop(timeout=10)
            raise NotReady(
                f"daemon {self.instance_id} not ready after {ready_timeout} s:\n{self.log_tail()}"
            ) from None
        except BaseException:  # it exited, or a Ctrl-C: nothing half-started stays
            self.stop(timeout=10)
            raise
        self.ready_s = time.monotonic() - started

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def settings(self) -> Settings:
        """The settings the daemon runs with (read from the same environment)."""
        return Settings.from_env(self.environ)

    def alive(self) -> bool:
        return self.process.poll() is None

    def send_signal(self, sig: int) -> None:
        """Signal the daemon; a later :meth:`stop` then only waits for it to exit."""
        self.signalled = True
        self.process.send_signal(sig)

    def kill(self) -> int:
        """SIGKILL: no drain, no cleanup (its containers stay). Returns the exit code."""
        self.process.kill()
        code = self.process.wait()
        self._log.close()
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Stop the daemon (unless it was signalled already) and return its exit code.

        SIGTERM makes it drain and remove its containers; one that has not exited
        after ``timeout`` is killed (a negative code).
        """
        code = stop_process(self.process, None if self.signalled else sig, timeout)
        self._log.close()
        return code

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


def _first_new_instance(daemon: Daemon, known: set[str], timeout: float) -> str:
    """The instance id of the first snapshot on the daemon's NATS from an instance not ``known``."""

    async def watch() -> str:
        async with contextlib.aclosing(_snapshots(daemon, f"{STATS_PREFIX}.*")) as snapshots:
            async with asyncio.timeout(timeout):
                async for snapshot in snapshots:
                    instance = str(snapshot.get("instance", ""))
                    if instance and instance not in known:
                        return instance
        raise AssertionError("unreachable")

    try:
        return asyncio.run(watch())
    except TimeoutError:
        raise StatsTimeout("(default id)", "a new instance", timeout, None) from None


def child_pids(pid: int, name: str) -> list[int]:
    """Process ids of the children of ``pid`` whose command is ``name``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        if ppid == pid and command == name:
            found.append(int(stat.parent.name))
    return found


def instance_containers(instance_id: str) -> list[str]:
    """Ids of every container (running or not) that a daemon ``instance_id`` made."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={INSTANCE_LABEL}={instance_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def containers_running(instance_id: str, needle: str, timeout: float = 20) -> list[str]:
    """The instance's containers with a process whose command line has ``needle``.

    Waits up to ``timeout`` for at least one (Docker announces no process start).
    """

    def found() -> list[str]:
        return [
            c
            for c in instance_containers(instance_id)
            if needle
            in subprocess.run(
                ["docker", "top", c, "-eo", "pid,args"], capture_output=True, text=True
            ).stdout
        ]

    return wait_until(
        found, timeout=timeout, what=f"a container of {instance_id} running {needle!r}"
    )


def remove_containers(instance_id: str) -> int:
    """Force-remove the containers of ``instance_id``; returns how many there were."""
    found = instance_containers(instance_id)
    if found:
        subprocess.run(["docker", "rm", "-f", *found], capture_output=True)
    return len(found)


def stop_leftovers() -> None:
    """Stop every daemon started here that still runs, and remove all their containers.

    For the end of a test session or a benchmark run: whatever failed half-way,
    nothing outlives it.
    """
    for daemon in _started:
        if daemon.alive():
            daemon.stop(timeout=30)
        remove_containers(daemon.instance_id)
    _started.clear()


# -- what the engine publishes ------------------------------------------------------


def wait_for_stats(
    daemon: Daemon, predicate: Predicate, *, timeout: float = 30.0, what: str = ""
) -> Snapshot:
    """Block until ``daemon`` publishes a snapshot for which ``predicate`` is true.

    Only snapshots published from now on count. From asyncio code, call it in a
    thread (``await asyncio.to_thread(wait_for_stats, ...)``).

    Args:
        what: the condition in words, for the error.
    Raises:
        StatsTimeout: no snapshot met the condition within ``timeout`` seconds (the
            message shows the last one seen).
        NotReady: the daemon exited meanwhile (the message quotes its log).
    """
    last: Snapshot | None = None

    async def watch() -> Snapshot:
        nonlocal last
        subject = stats_subject(daemon.instance_id)
        async with contextlib.aclosing(_snapshots(daemon, subject)) as snapshots:
            async with asyncio.timeout(timeout):
                async for last in snapshots:
                    if predicate(last):
                        return last
        raise AssertionError("unreachable")

    try:
        return asyncio.run(watch())
    except TimeoutError:
        raise StatsTimeout(daemon.instance_id, what, timeout, last) from None


async def _snapshots(daemon: Daemon, subject: str) -> AsyncGenerator[Snapshot]:
    """Snapshots on ``subject`` from now on; NotReady once the daemon has exited."""
    nc = await nats.connect(
        **daemon.settings.nats_connection.options(), connect_timeout=5, max_reconnect_attempts=0
    )
    try:
        sub = await nc.subscribe(subject)
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                if not daemon.alive():
                    raise NotReady(
                        f"daemon {daemon.instance_id or '(default id)'} exited with "
                        f"{daemon.process.returncode}:\n{daemon.log_tail()}"
                    ) from None
                continue
            yield json.loads(msg.data)
    finally:
        await nc.close()


def next_snapshot(daemon: Daemon, timeout: float = 10.0) -> Snapshot:
    """The next stats snapshot ``daemon`` publishes."""
    return wait_for_stats(daemon, lambda _: True, timeout=timeout, what="anything")


def job_running(request_id: str) -> Predicate:
    """A predicate: the job ``request_id`` is on one of the pool's containers."""

    def running(snapshot: Snapshot) -> bool:
        return any((c.get("job") or {}).get("id") == request_id for c in snapshot["containers"])

    return running


def nats_request(
    nats_url: str,
    subject: str,
    body: Mapping[str, Any] | bytes | None = None,
    *,
    timeout: float = 5.0,
) -> Any:
    """One NATS request (``body`` as JSON unless bytes); returns the decoded JSON reply."""
    if body is None:
        payload = b""
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()

    async def ask() -> Any:
        nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=0)
        try:
            msg = await nc.request(subject, payload, timeout=timeout)
            return json.loads(msg.data)
        finally:
            await nc.close()

    return asyncio.run(ask())
