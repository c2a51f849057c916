"""The daemon's configuration: one typed object, built from the environment in one place.

Every setting has an environment variable and a documented default; ``code-engine
serve --help`` prints this table (see :func:`describe`), and so does
docs/reference/configuration.md, generated from it.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from service.errors import ConfigError
from wire.connection import NatsConnection, NatsSettingsError, parse_servers
from wire.subjects import (
    COMPILER_SUBJECT,
    DEAD_LETTER_PREFIX,
    DEFAULT_NATS_URL,
    DURABLE_STREAM,
    PROBLEMS_SUBJECT,
    QUEUE_GROUP,
)

from .sandbox.tier import Tier, tier_of


def _setting(env: str, default: Any, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


def _secret(env: str, help: str) -> Any:
    # Never in a repr (so never in a log line or traceback that prints settings).
    return field(default=None, repr=False, metadata={"env": env, "help": help})


def default_instance_id(slot: int = 1) -> str:
    """``<hostname>-<slot>``; the daemon claims the lowest free slot (service.sandbox.instance)."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:48] or "engine"
    return f"{host}-{slot}"


@dataclass(frozen=True, slots=True)
class Settings:
    # Connections and logging.
    nats_url: str | None = _secret(  # a URL may hold a password or a token
        "NATSURL",
        f"NATS servers, comma-separated (nats:// or tls://); unset: {DEFAULT_NATS_URL}, "
        "embedded when nothing listens",
    )
    nats_creds: str | None = _setting(
        "CODE_ENGINE_NATS_CREDS", None, "NATS credentials file (user JWT and nkey seed)"
    )
    nats_nkey_seed: str | None = _setting(
        "CODE_ENGINE_NATS_NKEY_SEED", None, "file holding an nkey seed to log in to NATS with"
    )
    nats_user: str | None = _setting("CODE_ENGINE_NATS_USER", None, "NATS user")
    nats_password: str | None = _secret("CODE_ENGINE_NATS_PASSWORD", "NATS password")
    nats_token: str | None = _secret("CODE_ENGINE_NATS_TOKEN", "NATS token")
    nats_tls_ca: str | None = _setting(
        "CODE_ENGINE_NATS_TLS_CA", None, "CA file to verify the NATS server by (TLS)"
    )
    nats_tls_cert: str | None = _setting(
        "CODE_ENGINE_NATS_TLS_CERT", None, "client certificate for NATS (mutual TLS)"
    )
    nats_tls_key: str | None = _setting(
        "CODE_ENGINE_NATS_TLS_KEY", None, "key of the client certificate"
    )
    embedded_nats_port: int = _setting(
        "CODE_ENGINE_EMBEDDED_NATS_PORT",
        4222,
        "port of the default NATS URL and of the embedded nats-server",
    )
    environment: str = _setting(
        "ENVIRONMENT", "development", "'production' gives JSON logs, anything else console logs"
    )
    betterstack_url: str | None = _setting(
        "BETTERSTACKUPLOADURL", None, "BetterStack HTTP ingestion URL (with the token: ship logs)"
    )
    betterstack_token: str | None = _setting(
        "BETTERSTACKSOURCETOKEN", None, "BetterStack source token, sent as bearer"
    )
    instance_id: str = _setting(
        "CODE_ENGINE_INSTANCE_ID",
        "",
        "this instance's id (labels, stats); default: <hostname>-<n>, the lowest n "
        "no live daemon on this host holds (stable across restarts)",
    )
    log_level: str = _setting("CODE_ENGINE_LOG_LEVEL", "INFO", "log level")

    # Subjects.
    compiler_subject: str = _setting(
        "CODE_ENGINE_COMPILER_SUBJECT", COMPILER_SUBJECT, "subject for compiler requests"
    )
    problems_subject: str = _setting(
        "CODE_ENGINE_PROBLEMS_SUBJECT", PROBLEMS_SUBJECT, "subject for problems requests"
    )
    queue_group: str = _setting(
        "CODE_ENGINE_QUEUE_GROUP", QUEUE_GROUP, "NATS queue group shared by all instances"
    )

    # Pool and scheduling.
    image: str = _setting("CODE_ENGINE_IMAGE", "code-engine-worker:latest", "worker image")
    languages: str = _setting(
        "CODE_ENGINE_LANGUAGES",
        "all",
        "languages the worker image holds and the daemon serves: all (every file in"
        " languages/ but the opt-in ones), or names, comma-separated (all,kotlin adds one)",
    )
    workers: int = _setting(
        "CODE_ENGINE_WORKERS", 2, "warm containers the pool keeps ready (the pool size)"
    )
    concurrency: int = _setting(
        "CODE_ENGINE_CONCURRENCY", 3, "jobs run at once; the pool grows to this on demand"
    )
    queue_capacity: int = _setting(
        "CODE_ENGINE_QUEUE_CAPACITY", 64, "accepted jobs waiting for a worker; beyond: 'busy'"
    )
    recycle_after: int = _setting(
        "CODE_ENGINE_RECYCLE_AFTER", 500, "jobs per container before it is replaced (1: single-use)"
    )
    health_interval_ms: int = _setting(
        "CODE_ENGINE_HEALTH_INTERVAL_MS", 1000, "pool health check period, and the stats snapshot's"
    )
    idle_shrink_s: float = _setting(
        "CODE_ENGINE_IDLE_SHRINK_S", 30.0, "idle time after which containers above the pool size go"
    )
    docker_host: str | None = _setting(
        "DOCKER_HOST", None, "Docker socket as unix:///path; default /var/run/docker.sock"
    )

    runtime: str = _setting(
        "CODE_ENGINE_RUNTIME", "", "OCI runtime for workers, e.g. runsc (gVisor); empty: Docker's"
    )

    # Limits per container and per job.
    memory_mb: int = _setting(
        "CODE_ENGINE_MEMORY_MB", 400, "memory per container = default and maximum per job (no swap)"
    )
    cpus: float = _setting("CODE_ENGINE_CPUS", 0.5, "CPUs per container")
    compile_cpus: float = _setting(
        "CODE_ENGINE_COMPILE_CPUS", 1.0, "CPUs a compile step may use (compilers are threaded)"
    )
    compile_memory: int = _setting(
        "CODE_ENGINE_COMPILE_MEMORY_MB",
        0,
        "least memory of a compile step, for every language: a compile gets the job's"
        " memory_mb raised to this (0: each language's measured floor, from its file)",
    )
    cgroup_writes: bool = _setting(
        "CODE_ENGINE_CGROUP_WRITES",
        True,
        "change a container's CPU and memory limits in its cgroup, not through Docker, where"
        " the daemon sees it",
    )
    warm_starts: bool = _setting(
        "CODE_ENGINE_WARM_STARTS",
        True,
        "start Python and Node.js runs at the default limits before their request arrives",
    )
    fork_server: bool = _setting(
        "CODE_ENGINE_FORK_SERVER",
        True,
        "fork warm Python processes from one interpreter started per container",
    )
    compile_cache_mb: int = _setting(
        "CODE_ENGINE_COMPILE_CACHE_MB",
        128,
        "daemon memory for compiled Go and C++ programs reused by identical requests (0: off)",
    )
    cpu_period_ms: int = _setting(
        "CODE_ENGINE_CPU_PERIOD_MS", 200, "CFS period: longer lets short programs burst unthrottled"
    )
    pids_limit: int = _setting("CODE_ENGINE_PIDS_LIMIT", 128, "processes and threads per container")
    timeout_ms: int = _setting(
        "CODE_ENGINE_TIMEOUT_MS", 10_000, "wall-clock limit per run = default and maximum"
    )
    max_cpu_time_ms: int = _setting(
        "CODE_ENGINE_MAX_CPU_TIME_MS",
        0,
        "largest CPU time limit per run (0: CODE_ENGINE_TIMEOUT_MS); the default is the wall limit",
    )
    compile_timeout_ms: int = _setting(
        "CODE_ENGINE_COMPILE_TIMEOUT_MS", 20_000, "wall-clock limit per compile step"
    )
    grace_ms: int = _setting(
        "CODE_ENGINE_GRACE_MS", 2_000, "host-side slack past the job's limits before it kills"
    )
    output_limit: int = _setting(
        "CODE_ENGINE_OUTPUT_LIMIT", 65_536, "bytes kept per stream (stdout, stderr) per run"
    )
    compile_output_limit: int = _setting(
        "CODE_ENGINE_COMPILE_OUTPUT_LIMIT", 65_536, "bytes of compiler diagnostics kept"
    )
    file_size_limit: int = _setting(
        "CODE_ENGINE_FILE_SIZE_LIMIT", 16 << 20, "largest file a job may write (bytes)"
    )
    scratch_mb: int = _setting("CODE_ENGINE_SCRATCH_MB", 256, "size of the job's /work tmpfs")
    max_code_bytes: int = _setting(
        "CODE_ENGINE_MAX_CODE_BYTES", 64 << 10, "largest source on compiler requests (decoded)"
    )
    max_stdin_bytes: int = _setting(
        "CODE_ENGINE_MAX_STDIN_BYTES", 1 << 20, "largest stdin on compiler requests (decoded)"
    )
    problems_max_code_bytes: int = _setting(
        "CODE_ENGINE_PROBLEMS_MAX_CODE_BYTES", 512 << 10, "largest source on problems requests"
    )
    problems_max_stdin_bytes: int = _setting(
        "CODE_ENGINE_PROBLEMS_MAX_STDIN_BYTES", 4 << 20, "largest stdin on problems requests"
    )
    problems_output_limit: int = _setting(
        "CODE_ENGINE_PROBLEMS_OUTPUT_LIMIT", 1 << 20, "bytes kept per stream on problems requests"
    )
    problems_max_tests: int = _setting(
        "CODE_ENGINE_PROBLEMS_MAX_TESTS", 100, "most test cases in one problems request"
    )
    max_args: int = _setting("CODE_ENGINE_MAX_ARGS", 64, "most program arguments per request")
    nats_max_payload: int = _setting(
        "CODE_ENGINE_NATS_MAX_PAYLOAD", 8 << 20, "max_payload of the embedded nats-server"
    )
    durable: bool = _setting(
        "CODE_ENGINE_DURABLE", False, "also take requests from a JetStream work queue"
    )
    durable_stream: str = _setting("CODE_ENGINE_DURABLE_STREAM", DURABLE_STREAM, "stream name")
    durable_consumer: str = _setting(
        "CODE_ENGINE_DURABLE_CONSUMER", "code-engine", "durable pull consumer shared by instances"
    )
    durable_ack_wait_s: float = _setting(
        "CODE_ENGINE_DURABLE_ACK_WAIT_S", 30.0, "redelivery delay of an unacknowledged job"
    )
    durable_max_deliver: int = _setting(
        "CODE_ENGINE_DURABLE_MAX_DELIVER", 3, "deliveries before a job is dead-lettered"
    )
    durable_replicas: int = _setting(
        "CODE_ENGINE_DURABLE_REPLICAS",
        1,
        "replicas of the stream and buckets (use 3 on a 3-node cluster)",
    )
    durable_reply_ttl_s: float = _setting(
        "CODE_ENGINE_DURABLE_REPLY_TTL_S",
        600.0,
        "how long durable replies are kept for submitters that missed them",
    )
    durable_duplicate_window_s: float = _setting(
        "CODE_ENGINE_DURABLE_DUPLICATE_WINDOW_S", 120.0, "the stream drops repeated ids this long"
    )
    dead_letter_subject: str = _setting(
        "CODE_ENGINE_DEAD_LETTER_SUBJECT", DEAD_LETTER_PREFIX, "poison requests go to <this>.<kind>"
    )
    shutdown_grace_s: float = _setting(
        "CODE_ENGINE_SHUTDOWN_GRACE_S", 15.0, "time in-flight jobs get to finish on SIGTERM"
    )
    metrics_addr: str = _setting(
        "CODE_ENGINE_METRICS_ADDR",
        "",
        "host:port of the HTTP listener for /metrics, /healthz, /readyz; empty: none",
    )
    # Not a variable: True when CODE_ENGINE_INSTANCE_ID was unset and the id above is
    # only the first candidate (the daemon claims the lowest free slot).
    instance_id_auto: bool = field(default=False, metadata={})

    @property
    def production(self) -> bool:
        return self.environment.strip().lower() == "production"

    @property
    def effective_nats_url(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.embedded_nats_port}"

    @property
    def nats_connection(self) -> NatsConnection:
        """The NATS servers, login and TLS (secrets stay out of its description).

        Raises:
            ConfigError: NATSURL is not a server list.
        """
        try:
            servers = parse_servers(self.effective_nats_url)
        except NatsSettingsError as exc:
            raise ConfigError(f"NATSURL: {exc}") from None
        return NatsConnection(
            servers=servers,
            creds_file=self.nats_creds,
            nkey_seed_file=self.nats_nkey_seed,
            user=self.nats_user,
            password=self.nats_password,
            token=self.nats_token,
            tls_ca=self.nats_tls_ca,
            tls_cert=self.nats_tls_cert,
            tls_key=self.nats_tls_key,
        )

    @property
    def metrics_listen(self) -> tuple[str, int] | None:
        """``(host, port)`` of the metrics and probes listener, or None when it is off."""
        if not self.metrics_addr:
            return None
        host, sep, port = self.metrics_addr.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"CODE_ENGINE_METRICS_ADDR must be host:port (e.g. 0.0.0.0:9464), "
                f"got {self.metrics_addr!r}"
            )
        return host or "0.0.0.0", int(port)

    @property
    def docker_socket(self) -> str:
        host = self.docker_host or "unix:///var/run/docker.sock"
        if not host.startswith("unix://"):
            raise ConfigError(f"DOCKER_HOST must be unix:///path, got {host!r}")
        return host.removeprefix("unix://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), then ``overrides``.

        Raises:
            ConfigError: a variable does not parse or a value is out of range.
        """
        settings = cls(**values_from_env(cls, environ, overrides))
        if not settings.instance_id:
            settings = replace(settings, instance_id=default_instance_id(), instance_id_auto=True)
        settings.check()
        return settings

    @property
    def live_updates(self) -> bool:
        """Whether running containers' limits can be changed (gVisor's runsc cannot)."""
        return self.tier.live_updates

    @property
    def tier(self) -> Tier:
        """What the workers' runtime changes in the engine (service/sandbox/tier.py)."""
        return tier_of(self.runtime)

    @property
    def cpu_time_ceiling_ms(self) -> int:
        """The largest CPU time limit a request may ask for."""
        return self.max_cpu_time_ms or self.timeout_ms

    def check(self) -> None:
        positive = (
            "workers concurrency queue_capacity recycle_after health_interval_ms memory_mb "
            "pids_limit timeout_ms compile_timeout_ms output_limit compile_output_limit "
            "file_size_limit scratch_mb max_code_bytes max_stdin_bytes problems_max_code_bytes "
            "problems_max_stdin_bytes problems_output_limit nats_max_payload problems_max_tests "
            "durable_replicas durable_reply_ttl_s"
        ).split()
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{env_of(name)} must be positive, got {getattr(self, name)}")
        if self.max_cpu_time_ms < 0:
            raise ConfigError(
                f"CODE_ENGINE_MAX_CPU_TIME_MS must be 0 or positive, got {self.max_cpu_time_ms}"
            )
        if self.cpus <= 0 or self.compile_cpus <= 0:
            raise ConfigError("CODE_ENGINE_CPUS and CODE_ENGINE_COMPILE_CPUS must be positive")
        if self.concurrency < self.workers:
            raise ConfigError(
                f"CODE_ENGINE_CONCURRENCY ({self.concurrency}) must be at least "
                f"CODE_ENGINE_WORKERS ({self.workers})"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.instance_id):
            raise ConfigError(
                "CODE_ENGINE_INSTANCE_ID must be 1-64 letters, digits, '-' or '_' "
                f"(it is one token of NATS subjects), got {self.instance_id!r}"
            )
        if self.memory_mb < 32:
            raise ConfigError("CODE_ENGINE_MEMORY_MB must be at least 32")
        if self.compile_cache_mb < 0:
            raise ConfigError(
                f"CODE_ENGINE_COMPILE_CACHE_MB must be 0 or positive, got {self.compile_cache_mb}"
            )
        if self.compile_memory < 0 or 0 < self.compile_memory < 32:
            raise ConfigError("CODE_ENGINE_COMPILE_MEMORY_MB must be 0 or at least 32")
        self.docker_socket  # noqa: B018  (validates DOCKER_HOST)
        self.metrics_listen  # noqa: B018  (validates CODE_ENGINE_METRICS_ADDR)
        try:
            self.nats_connection.check()
        except NatsSettingsError as exc:
            raise ConfigError(str(exc)) from None


def values_from_env(
    cls: type, environ: Mapping[str, str] | None, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The field values of settings class ``cls``: each variable set (non-empty) in
    ``environ`` (default ``os.environ``) parsed as its default's type, then ``overrides``
    that are not None. ``cls``: these settings, or another process's (gateway/settings.py).

    Raises:
        ConfigError: a variable does not parse.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in _variables(cls):
        raw = environ.get(f.metadata["env"])
        if raw:
            values[f.name] = parse_setting(f.metadata["env"], raw, f.default)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return values


def _variables(cls: type = Settings) -> list[Any]:
    return [f for f in fields(cls) if "env" in f.metadata]


def env_of(name: str, cls: type = Settings) -> str:
    """The environment variable of field ``name`` of settings class ``cls``."""
    return next(f.metadata["env"] for f in _variables(cls) if f.name == name)


def parse_setting(env: str, raw: str, default: Any) -> Any:
    """``raw`` as the type of ``default``.

    Raises:
        ConfigError: it does not parse.
    """
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw.replace("_", ""))
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise ConfigError(f"{env}={raw!r} is not {kind}") from None
    return raw


def describe(cls: type = Settings) -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting of ``cls``, in declaration order.

    ``cls`` is a dataclass whose fields carry ``env`` and ``help`` metadata: these
    settings, or another process's (gateway/settings.py).
    """
    rows = []
    for f in _variables(cls):
        default = "unset" if f.default in (None, "") else str(f.default)
        rows.append((f.metadata["env"], default, f.metadata["help"]))
    return rows
