"""Subject and header names, and the default NATS URL: spelled out here only."""

from __future__ import annotations

import enum
import hashlib

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"  # NATSURL unset: here, embedded when nothing listens

COMPILER_SUBJECT = "compiler.execute.request"  # one program run, its output and status
PROBLEMS_SUBJECT = "problems.execute.request"  # larger limits, and test cases graded
QUEUE_GROUP = "code-engine"  # every instance subscribes in it: one of them takes each request

# The NATS service API ($SRV.PING/INFO/STATS) names the engine this way.
SERVICE_NAME = "code-engine"

STATS_PREFIX = "code-engine.stats"  # .<instance>: its snapshot, once a second
ADMIN_PREFIX = "code-engine.admin"  # .<instance>: pause, resume, drain, recycle, resize
# The languages served (wire/languages.py): every instance answers here, and one alone
# on .<instance>.
LANGUAGES_SUBJECT = "code-engine.languages"
DEAD_LETTER_PREFIX = "code-engine.dead"  # .<kind>: durable requests delivered too often

# Durable mode: a JetStream work queue in front of the same engine.
DURABLE_STREAM = "CODE_ENGINE"
DURABLE_PREFIX = "code-engine.durable"
# Durable replies are also kept here for a while, under reply_key(token).
REPLIES_BUCKET = "code-engine-replies"

# Headers.
INSTANCE_HEADER = "Code-Engine-Instance"  # on every reply: who answered
REPLY_HEADER = "Code-Engine-Reply"  # durable requests: where the reply goes
REQUEST_ID_HEADER = "Code-Engine-Request-Id"  # dead letters: which request it was
MSG_ID_HEADER = "Nats-Msg-Id"  # JetStream's de-duplication id
# Durable requests: a secret of the submitter's; the reply is kept under its hash.
REPLY_TOKEN_HEADER = "Code-Engine-Reply-Token"
# The service API's way to say a request failed (an empty payload carries them).
SERVICE_ERROR_HEADER = "Nats-Service-Error"
SERVICE_ERROR_CODE_HEADER = "Nats-Service-Error-Code"


class Kind(enum.StrEnum):
    """Which subject a request came in on; it decides the size limits and the reply's shape."""

    COMPILER = "compiler"
    PROBLEMS = "problems"


def stats_subject(instance: str) -> str:
    return f"{STATS_PREFIX}.{instance}"


def admin_subject(instance: str) -> str:
    return f"{ADMIN_PREFIX}.{instance}"


def durable_subject(kind: Kind) -> str:
    return f"{DURABLE_PREFIX}.{kind.value}"


def dead_letter_subject(prefix: str, kind: Kind) -> str:
    return f"{prefix}.{kind.value}"


def reply_key(token: str) -> str:
    """The key of a kept durable reply: a hash of the submitter's token, never the request id.

    Knowing a request id (or seeing a key) does not give the token, and so not the key.
    """
    return hashlib.sha256(f"code-engine-reply:{token}".encode()).hexdigest()


def subject_for(kind: Kind) -> str:
    """The default execute subject of ``kind``."""
    return COMPILER_SUBJECT if kind is Kind.COMPILER else PROBLEMS_SUBJECT
