"""From bytes on the wire to a validated request: the engine's one validation point.

``request`` defines what a validated request is (bytes decoded, language
resolved, limits clamped, tests read), ``limits`` a request's limits from the
settings' bounds to the agent's steps; ``validate`` turns a payload into one or
raises :class:`service.errors.InvalidRequest` with a reason a client can act on.
"""

from .limits import Limits, RunLimits, limits_for
from .request import (
    DEFAULT_FLOAT_TOLERANCE,
    Compare,
    ExecuteRequest,
    Problem,
    Program,
    SourceFile,
    TestCase,
)
from .validate import parse_request, salvage_id, salvage_language

__all__ = [
    "DEFAULT_FLOAT_TOLERANCE",
    "Compare",
    "ExecuteRequest",
    "Limits",
    "Problem",
    "Program",
    "RunLimits",
    "SourceFile",
    "TestCase",
    "limits_for",
    "parse_request",
    "salvage_id",
    "salvage_language",
]
