"""Test doubles for the engine: deterministic unit tests without Docker or NATS.

``fake_agent`` speaks the agent protocol on :class:`docker_api.testing.FakeAttachPeer`.
"""

from .fake_agent import Behaviour, FakeAgent, answer, never_answer, step_result

__all__ = ["Behaviour", "FakeAgent", "answer", "never_answer", "step_result"]
