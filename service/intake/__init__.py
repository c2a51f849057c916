"""NATS intake: the only package that touches asyncio.

nats-py is an asyncio library; it runs here inside a trio-asyncio loop, behind a
Trio-facing interface (:class:`NatsIntake`). ``core`` handles plain
request-reply; ``durable`` adds the opt-in JetStream work queue.
"""

from service.intake.durable import REPLY_HEADER, Ticket
from service.intake.nats import INSTANCE_HEADER, Incoming, NatsIntake

__all__ = ["INSTANCE_HEADER", "REPLY_HEADER", "Incoming", "NatsIntake", "Ticket"]
