"""How values go into Engine API requests and come out of its answers.

Kept apart from :mod:`docker_api.client` so the resource modules can use it
without importing the client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .errors import ProtocolError


def quote_image(value: str) -> str:
    """Quote an image reference for use inside a URL path.

    ``/``, ``:`` and ``@`` stay as they are because image references contain
    them and the Engine's routes accept them literally
    (``/images/registry:5000/app:1/json``).
    """
    return quote(value, safe="/:@")


def quote_container(ref: str) -> str:
    """Quote a container id or name for use as one URL path segment.

    A leading ``/`` (as in the ``Name`` field of inspect answers) is dropped:
    the Engine redirects ``/containers//name`` instead of answering it.
    """
    return quote(ref.removeprefix("/"), safe="")


def flag(value: bool) -> str:
    """Encode a boolean query parameter the way the Engine documents it."""
    return "true" if value else "false"


def expect_object(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object.

    Raises:
        ProtocolError: It is not.
    """
    if not isinstance(value, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def expect_list(value: Any, what: str) -> list[dict[str, Any]]:
    """Return ``value`` if it is a JSON array of objects.

    Raises:
        ProtocolError: It is not.
    """
    if not isinstance(value, list):
        raise ProtocolError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return [expect_object(item, what) for item in value]
