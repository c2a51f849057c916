"""Intake: where requests come from and replies go.

``base`` is the interface the engine sees (:class:`Intake`, :class:`Incoming`);
``nats`` implements it on NATS (nats-py under trio-asyncio: the only asyncio
code in the daemon) with ``durable`` adding the opt-in JetStream work queue;
``memory`` implements it in memory for unit tests; ``nats_server`` runs the
embedded nats-server.
"""

from .base import Incoming, Intake, Outbox, Ticket
from .nats import NatsIntake

__all__ = ["Incoming", "Intake", "NatsIntake", "Outbox", "Ticket"]
