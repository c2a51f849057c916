"""schemathesis over the native HTTP API: what /openapi.json promises, the running gateway does.

Requests are generated from the document (a generated `code` is random text, so
most are refused by the engine, quickly); every response must be documented,
match its schema, carry what HTTP asks of it (Allow on 405), and never be a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from gateway.testing.process import GatewayProcess
from service.testing.harness import Daemon
from service.testing.nats_servers import NatsServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def native_gateway(
    nats_server: NatsServer, daemon: Daemon, tmp_session: Path
) -> Iterator[GatewayProcess]:
    with GatewayProcess(nats_server.url, tmp_session / "gateway-schema.log") as process:
        yield process


@pytest.fixture(scope="module")
def native_api(native_gateway: GatewayProcess):
    return schemathesis.openapi.from_url(f"{native_gateway.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("native_api")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_native_api_keeps_its_document(case):
    # A body valid by the schema may still be refused by the engine's own rules (a
    # language it does not serve, code that is not base64, a file name it forbids):
    # that is a documented 422 with status invalid_request, not a failure.
    case.call_and_validate(
        timeout=60, excluded_checks=[schemathesis.checks.positive_data_acceptance]
    )
