"""NATS connection settings: server lists, logins, TLS files, and secrets kept out of sight."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.errors import ConfigError
from wire.connection import (
    NatsConnection,
    NatsSettingsError,
    is_refusal,
    parse_servers,
    redact_url,
)


def test_a_comma_separated_list_is_a_server_list():
    assert parse_servers("nats://a:4222, tls://b:4222,,c:4222") == (
        "nats://a:4222",
        "tls://b:4222",
        "nats://c:4222",
    )
    with pytest.raises(NatsSettingsError, match="not a NATS server URL"):
        parse_servers("http://a:4222")
    with pytest.raises(NatsSettingsError, match="no NATS server"):
        parse_servers(" , ")


def test_urls_lose_their_secrets_when_shown():
    assert redact_url("nats://user:pw@h:4222") == "nats://user:***@h:4222"
    assert redact_url("tls://s3cr3t-token@h:4222") == "tls://***@h:4222"
    assert redact_url("nats://h:4222") == "nats://h:4222"


def test_settings_build_the_connection_and_never_show_a_secret(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = Settings.from_env(
        {
            "NATSURL": "tls://engine:pw-in-url@n1:4222,tls://n2:4222",
            "CODE_ENGINE_NATS_USER": "engine",
            "CODE_ENGINE_NATS_PASSWORD": "hunter2",
            "CODE_ENGINE_NATS_TLS_CA": str(ca),
        }
    )
    connection = settings.nats_connection
    assert connection.servers == ("tls://engine:pw-in-url@n1:4222", "tls://n2:4222")
    assert (connection.user, connection.password, connection.tls_ca) == (
        "engine",
        "hunter2",
        str(ca),
    )
    shown = [repr(settings), repr(connection), connection.describe()]
    for text in shown:
        assert "hunter2" not in text and "pw-in-url" not in text, text
    assert connection.describe() == "tls://engine:***@n1:4222, tls://n2:4222 (user engine, TLS)"


def test_options_carry_the_login_for_nats_py():
    options = NatsConnection(servers=("nats://a:1",), user="u", password="p").options()
    assert options == {"servers": ["nats://a:1"], "user": "u", "password": "p"}
    options = NatsConnection(servers=("nats://a:1",), creds_file="/x.creds").options()
    assert options["user_credentials"] == "/x.creds"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CODE_ENGINE_NATS_PASSWORD": "x"}, "password needs a user"),
        ({"CODE_ENGINE_NATS_USER": "u", "CODE_ENGINE_NATS_TOKEN": "t"}, "one way of logging in"),
        ({"CODE_ENGINE_NATS_TLS_CERT": "/nonexistent.pem"}, "needs its key"),
        ({"CODE_ENGINE_NATS_CREDS": "/nonexistent.creds"}, "cannot read the NATS credentials"),
        ({"NATSURL": "http://x:1"}, "NATSURL: 'http://x:1' is not a NATS server URL"),
    ],
)
def test_settings_that_cannot_work_are_config_errors(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_tls_is_asked_for_by_a_tls_url_or_a_ca():
    assert NatsConnection(servers=("tls://a:1",)).uses_tls
    assert not NatsConnection(servers=("nats://a:1",)).uses_tls
    assert NatsConnection(servers=("nats://a:1",)).tls_context() is None


def test_refusals_are_told_from_outages():
    import nats.errors

    assert is_refusal(nats.errors.AuthorizationError())
    assert is_refusal(nats.errors.Error("nats: 'Authorization Violation'"))
    assert not is_refusal(ConnectionRefusedError(111, "refused"))
