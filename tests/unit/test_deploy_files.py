"""The deployment files agree with the daemon: its stop grace, its settings, its probes."""

from __future__ import annotations

import configparser
import fnmatch
import re
import tomllib

from service.config import Settings, describe
from service.sandbox.image import context_files
from service.sandbox.image_recipe import MARKER
from service.testing.harness import ROOT

DEPLOY = ROOT / "deploy"


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec)?", value.strip())
    assert match, value
    return float(match.group(1))


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "code-engine.service").read_text())
    return parser


def env_file() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "code-engine.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_systemd_unit_restarts_on_failure_and_reads_the_environment_file():
    service = unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/code-engine/code-engine.env"
    assert service["ExecStart"].endswith("code-engine serve")
    assert service["KillSignal"] == "SIGTERM"


def test_stop_timeouts_leave_room_for_the_shutdown_grace():
    values = env_file()
    grace = Settings.from_env(values).shutdown_grace_s
    assert grace == Settings.from_env({}).shutdown_grace_s  # the file states the default
    # The grace, then answering the cut-off jobs and removing the containers.
    assert seconds(unit()["Service"]["TimeoutStopSec"]) >= grace + 10
    compose = (ROOT / "docker-compose.yml").read_text()
    compose_grace = float(re.search(r'CODE_ENGINE_SHUTDOWN_GRACE_S: "([\d.]+)"', compose)[1])
    stop_period = seconds(re.search(r"stop_grace_period: (\S+)", compose)[1])
    assert stop_period >= compose_grace + 10


def test_environment_file_names_only_real_settings():
    known = {env for env, _, _ in describe()}
    text = (DEPLOY / "code-engine.env").read_text()
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    assert named and named <= known, named - known
    Settings.from_env(env_file())  # and every value parses


def test_compose_healthcheck_asks_readyz_on_the_metrics_port():
    compose = (ROOT / "docker-compose.yml").read_text()
    port = re.search(r"CODE_ENGINE_METRICS_ADDR: 0\.0\.0\.0:(\d+)", compose)[1]
    assert f"http://127.0.0.1:{port}/readyz" in compose


def test_the_worker_dockerfile_gets_every_served_languages_layers():
    # The languages' packages, build steps and version probe replace the
    # marker line; what the generated instructions copy is in the context.
    files = dict(context_files())
    dockerfile = files["Dockerfile"].decode()
    assert MARKER not in dockerfile
    assert "golang-1.23-go" in dockerfile and "g++" in dockerfile
    for name in re.findall(r"^COPY (languages/\S+) ", dockerfile, flags=re.M):
        assert name in files


def test_every_file_of_the_packages_is_in_the_wheel():
    # The daemon's image installs the wheel, which holds a package's Python
    # files and what package-data names: a launcher left out would be missing
    # from every worker image the daemon builds.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    named = config["package-data"]
    for package in config["packages"]["find"]["include"]:
        directory = ROOT / package.rstrip("*")
        for path in directory.rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc"):
                continue
            relative = path.relative_to(directory).as_posix()
            patterns = named.get(package.rstrip("*"), [])
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), path
