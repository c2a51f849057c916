"""The gateway's deployment files agree with the gateway: its settings, its stop timeouts."""

from __future__ import annotations

import configparser
import re

from gateway.server import GRACEFUL_TIMEOUT_S
from gateway.settings import GatewaySettings
from gateway.settings import describe as describe_gateway
from service.config import describe as describe_engine
from service.testing.harness import ROOT

DEPLOY = ROOT / "deploy"


def test_unit_runs_the_gateway_unprivileged_and_waits_for_its_two_graces():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "code-engine-gateway.service").read_text())
    service = parser["Service"]
    assert service["ExecStart"].endswith("code-engine gateway")
    assert service["EnvironmentFile"] == "/etc/code-engine/code-engine-gateway.env"
    assert service["DynamicUser"] == "yes"
    assert float(service["TimeoutStopSec"].rstrip("s")) > 2 * GRACEFUL_TIMEOUT_S


def test_environment_file_names_only_real_settings():
    known = {env for env, _, _ in describe_gateway()} | {env for env, _, _ in describe_engine()}
    text = (DEPLOY / "code-engine-gateway.env").read_text()
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    assert named and named <= known, named - known
    values = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    GatewaySettings.from_env(values)


def test_compose_runs_the_gateway_on_judge0s_port_with_a_long_enough_stop():
    compose = (ROOT / "docker-compose.yml").read_text()
    gateway = compose[compose.index("  gateway:") :]
    assert 'command: ["gateway"]' in gateway
    assert "CODE_ENGINE_GATEWAY_ADDR: 0.0.0.0:2358" in gateway
    stop = float(re.search(r"stop_grace_period: (\d+)s", gateway)[1])
    assert stop > 2 * GRACEFUL_TIMEOUT_S
