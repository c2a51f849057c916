"""Replies for requests that did not run to a result: one place, in the shape each client expects.

A compiler client gets a :class:`wire.replies.Reply`; a problems client whose
request has tests gets a :class:`wire.replies.ProblemReply`, whatever went wrong.
"""

from __future__ import annotations

from wire import Kind, Status
from wire.replies import AnyReply, ProblemReply, Reply, refusal

from ..requests import ExecuteRequest, salvage_id, salvage_language


def refuse(request: ExecuteRequest, status: Status, reason: str) -> AnyReply:
    """A reply saying ``request`` did not run (busy, internal error, shutting down)."""
    if request.problem is not None:
        return ProblemReply(
            id=request.id,
            language=request.language.name,
            success=False,
            status=status,
            total=len(request.problem.tests),
            error=reason,
        )
    return refusal(request.id, request.language.name, status, reason)


def refuse_payload(kind: Kind, payload: bytes, status: Status, reason: str) -> AnyReply:
    """A reply to a payload that never became a request (``invalid_request``)."""
    request_id, language = salvage_id(payload), salvage_language(payload)
    if kind is Kind.PROBLEMS:
        return ProblemReply(
            id=request_id, language=language, success=False, status=status, error=reason
        )
    return refusal(request_id, language, status, reason)


def internal(request: ExecuteRequest, reason: str) -> Reply:
    """A compiler reply for a job the sandbox failed (never the program's fault)."""
    return refusal(request.id, request.language.name, Status.INTERNAL_ERROR, reason)
