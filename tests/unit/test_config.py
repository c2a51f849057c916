"""Settings from the environment: defaults, parsing, validation, --help."""

import pytest

from service.cli import main
from service.config import Settings, describe
from service.errors import ConfigError


def test_defaults_follow_the_seed():
    s = Settings.from_env({})
    assert s.effective_nats_url == "nats://127.0.0.1:4222"
    assert (s.memory_mb, s.cpus, s.timeout_ms) == (400, 0.5, 10_000)
    assert (s.workers, s.concurrency) == (2, 3)
    assert s.health_interval_ms == 1000
    assert not s.production
    assert s.instance_id  # generated


def test_environment_overrides():
    s = Settings.from_env(
        {
            "NATSURL": "nats://x:1",
            "ENVIRONMENT": "Production",
            "CODE_ENGINE_WORKERS": "4",
            "CODE_ENGINE_CONCURRENCY": "8",
            "CODE_ENGINE_CPUS": "1.5",
            "CODE_ENGINE_INSTANCE_ID": "a",
        }
    )
    assert s.nats_url == "nats://x:1"
    assert s.production
    assert (s.workers, s.concurrency, s.cpus, s.instance_id) == (4, 8, 1.5, "a")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CODE_ENGINE_WORKERS": "many"}, "CODE_ENGINE_WORKERS='many' is not an integer"),
        ({"CODE_ENGINE_QUEUE_CAPACITY": "0"}, "CODE_ENGINE_QUEUE_CAPACITY must be positive"),
        ({"CODE_ENGINE_WORKERS": "5"}, "must be at least CODE_ENGINE_WORKERS"),
        ({"DOCKER_HOST": "tcp://1.2.3.4:2375"}, "DOCKER_HOST must be unix://"),
        ({"CODE_ENGINE_INSTANCE_ID": "a.b"}, "CODE_ENGINE_INSTANCE_ID must be"),
    ],
)
def test_bad_settings_are_refused(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_docker_host_socket():
    assert Settings.from_env({"DOCKER_HOST": "unix:///tmp/d.sock"}).docker_socket == "/tmp/d.sock"


def test_serve_help_lists_every_setting_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for env, _default, _ in describe():
        assert env in out
    assert "CODE_ENGINE_MEMORY_MB" in out and "[400]" in out
    assert "BETTERSTACKUPLOADURL" in out


def test_the_configuration_reference_documents_every_setting():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    reference = (root / "docs" / "reference" / "configuration.md").read_text()
    missing = [env for env, _, _ in describe() if f"| `{env}` |" not in reference]
    assert missing == []
