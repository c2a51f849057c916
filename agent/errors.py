"""What goes wrong inside the agent, as exceptions::

    AgentError
    ├── BadRequest      a request that cannot be carried out as given (nothing of it ran)
    ├── AgentFailure    the agent cannot keep its guarantees (a process that will not die)
    └── HostGone        stdout is closed: nobody is listening any more

A line that is not a valid message at all is :class:`agent.protocol.ProtocolError`,
which belongs to the protocol both ends share.
"""

from __future__ import annotations


class AgentError(Exception):
    """The root of the agent's own errors."""


class BadRequest(AgentError):
    """The host sent a message that cannot be executed as given."""


class AgentFailure(AgentError):
    """The agent could not keep its guarantees (a process that will not die)."""


class HostGone(AgentError):
    """Stdout is closed: nobody is listening any more."""
