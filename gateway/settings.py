"""The gateway's settings: one typed object, built from the environment in one place.

NATS (servers, login, TLS) and the execute subjects are the daemon's own
variables (``NATSURL``, ``CODE_ENGINE_NATS_*``, ``CODE_ENGINE_COMPILER_SUBJECT``,
...), read through :class:`service.config.Settings`, so a gateway beside a daemon
needs nothing more. What is the gateway's alone is here, each with its
``CODE_ENGINE_GATEWAY_*`` variable; :func:`describe` lists them for ``--help``
and for docs/reference/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.config import Settings as EngineSettings
from service.config import describe as describe_settings
from service.config import env_of, values_from_env
from service.errors import ConfigError

from .errors import SettingsError


def _setting(env: str, default: Any, help: str, *, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"env": env, "help": help})


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    addr: str = _setting(
        "CODE_ENGINE_GATEWAY_ADDR", "127.0.0.1:2358", "host:port the gateway listens on"
    )
    tokens: str = _setting(
        "CODE_ENGINE_GATEWAY_TOKENS",
        "",
        "API tokens, comma-separated, sent as 'Authorization: Bearer' or 'X-Auth-Token'; "
        "empty (and no tokens file): no authentication",
        secret=True,
    )
    tokens_file: str = _setting(
        "CODE_ENGINE_GATEWAY_TOKENS_FILE", "", "a file of API tokens, one a line ('#' comments)"
    )
    rate: float = _setting(
        "CODE_ENGINE_GATEWAY_RATE", 0.0, "requests per second per token, on average (0: no limit)"
    )
    burst: int = _setting(
        "CODE_ENGINE_GATEWAY_BURST", 40, "requests a token may send at once above its rate"
    )
    concurrency: int = _setting(
        "CODE_ENGINE_GATEWAY_CONCURRENCY", 0, "requests in flight per token (0: no limit)"
    )
    cors_origins: str = _setting(
        "CODE_ENGINE_GATEWAY_CORS_ORIGINS",
        "",
        "origins browsers may call from, comma-separated, or '*'; empty: no CORS headers",
    )
    callback_hosts: str = _setting(
        "CODE_ENGINE_GATEWAY_CALLBACK_HOSTS",
        "",
        "hosts a Judge0 callback_url may name, comma-separated; empty: callbacks refused",
    )
    submission_ttl_s: float = _setting(
        "CODE_ENGINE_GATEWAY_SUBMISSION_TTL_S",
        3600.0,
        "how long a submission can be fetched by its token (the bucket's TTL)",
    )
    bucket: str = _setting(
        "CODE_ENGINE_GATEWAY_BUCKET",
        "code-engine-submissions",
        "the JetStream key-value bucket submissions are kept in",
    )
    replicas: int = _setting(
        "CODE_ENGINE_GATEWAY_REPLICAS", 1, "replicas of the bucket (3 on a 3-node cluster)"
    )
    reply_timeout_s: float = _setting(
        "CODE_ENGINE_GATEWAY_REPLY_TIMEOUT_S", 90.0, "how long to wait for a daemon's reply"
    )
    languages_ttl_s: float = _setting(
        "CODE_ENGINE_GATEWAY_LANGUAGES_TTL_S",
        10.0,
        "how long the daemons' language list is reused before it is asked again",
    )
    lease_s: float = _setting(
        "CODE_ENGINE_GATEWAY_LEASE_S",
        10.0,
        "how long a no-wait submission's run is promised to the gateway running it, renewed "
        "while it runs; fetched unfinished after it lapses (that gateway died), it runs again",
    )
    max_batch: int = _setting(
        "CODE_ENGINE_GATEWAY_MAX_BATCH", 20, "most submissions in one Judge0 batch"
    )
    log_level: str = _setting("CODE_ENGINE_GATEWAY_LOG_LEVEL", "INFO", "log level")

    @property
    def listen(self) -> tuple[str, int]:
        host, sep, port = self.addr.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise SettingsError(f"CODE_ENGINE_GATEWAY_ADDR must be host:port, got {self.addr!r}")
        return host or "127.0.0.1", int(port)

    def token_set(self) -> frozenset[str]:
        """Every accepted token (empty: authentication is off)."""
        found = {t.strip() for t in self.tokens.split(",") if t.strip()}
        if self.tokens_file:
            try:
                text = Path(self.tokens_file).read_text()
            except OSError as exc:
                raise SettingsError(
                    f"cannot read CODE_ENGINE_GATEWAY_TOKENS_FILE: {exc.strerror}"
                ) from None
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    found.add(line)
        return frozenset(found)

    def origins(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_origins.split(",") if o.strip())

    def allowed_callback_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.callback_hosts.split(",") if h.strip())

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> GatewaySettings:
        """Build settings from ``environ`` (default ``os.environ``), then ``overrides``.

        Raises:
            SettingsError: a variable does not parse or is out of range.
        """
        try:
            settings = cls(**values_from_env(cls, environ, overrides))
        except ConfigError as exc:
            raise SettingsError(str(exc)) from None
        settings.check()
        return settings

    def check(self) -> None:
        self.listen  # noqa: B018  (validates the address)
        for name in ("submission_ttl_s", "replicas", "reply_timeout_s", "max_batch", "burst"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{env_of(name, GatewaySettings)} must be positive")
        if self.rate < 0 or self.concurrency < 0:
            raise SettingsError("the gateway's rate and concurrency must be 0 or positive")
        self.token_set()


def engine_settings(nats_url: str | None = None) -> EngineSettings:
    """The daemon's settings (NATS, subjects, limits) as this environment gives them.

    Raises:
        SettingsError: one of them does not parse.
    """
    try:
        return EngineSettings.from_env(nats_url=nats_url)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every gateway setting, in declaration order."""
    return describe_settings(GatewaySettings)
