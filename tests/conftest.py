"""Shared fixtures. Integration fixtures start a real nats-server and a real daemon.

Both come from :mod:`service.testing.harness`; the daemons get the caller's
environment, so ``CODE_ENGINE_IMAGE`` chooses the worker image they run. The
helpers the suites share live in :mod:`service.testing` too (``client`` sends
requests, ``harness`` reads the daemon and its containers, ``waiting`` polls
what announces nothing); only fixtures and collection hooks are here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.testing.harness import Daemon, instance_containers, stop_leftovers
from service.testing.nats_servers import NatsServer


@pytest.fixture(scope="session")
def tmp_session() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="code-engine-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def nats_server(tmp_session: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_session)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def daemon(nats_server: NatsServer, tmp_session: Path) -> Iterator[Daemon]:
    daemon = Daemon(nats_server.url, tmp_session / "daemon.log")
    yield daemon
    code = daemon.stop()
    assert code == 0, daemon.log_text()[-3000:]
    assert instance_containers(daemon.instance_id) == []


def pytest_sessionfinish(session, exitstatus):
    # A test that failed half-way may have left its daemon running: stop it and
    # its containers, so nothing outlives the run.
    stop_leftovers()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "integration" in str(item.fspath).split(os.sep) or "hostile" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    # Restarting dockerd disturbs every other test's containers: it goes last.
    items.sort(key=lambda item: item.get_closest_marker("docker_restart") is not None)
