"""Exceptions raised by :mod:`docker_api`.

Every failure leaves the package as one of these; httpx and httpcore
exceptions are translated at the transport edge and never escape.

The tree::

    DockerError
    ├── DaemonUnavailable    socket missing, connection refused or dropped,
    │                        connect/read timeouts talking to the daemon
    ├── APIError             the Engine answered with a non-2xx status
    │   ├── NotFound         404 (no such container / image)
    │   └── Conflict         409 (already in use, not running, ...)
    ├── StreamClosed         an attach stream ended (EOF, also mid-frame)
    ├── BuildFailed          a build/import progress stream reported an error
    └── ProtocolError        the daemon sent bytes we cannot parse (bad frame
                             header, progress line that is not JSON)
"""

from __future__ import annotations


class DockerError(Exception):
    """Root of every exception raised by this package."""


class DaemonUnavailable(DockerError):
    """Nothing usable answers on the Docker socket.

    Raised when the socket is missing, the connection is refused or dropped
    before a full answer arrived, or a connect/read timeout expires.
    """


class APIError(DockerError):
    """The Engine answered with a non-2xx status.

    Attributes:
        status: The HTTP status code.
        message: The Engine's ``{"message": ...}`` text, or the raw body when
            the answer was not JSON.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"Docker API error {self.status}: {self.message}"


class NotFound(APIError):
    """404: the container or image does not exist."""


class Conflict(APIError):
    """409: the request conflicts with the object's state (name in use, not running, ...)."""


class StreamClosed(DockerError):
    """An attach stream ended: the container exited, the daemon hung up or we closed it."""


class BuildFailed(DockerError):
    """A build or import progress stream contained an error line.

    Attributes:
        message: The error text reported by the Engine.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProtocolError(DockerError):
    """The daemon sent something that is not valid for the endpoint.

    Typical cause: attaching to a container created with ``Tty: true``, whose
    output is raw bytes instead of multiplexed frames.
    """


_STATUS_ERRORS: dict[int, type[APIError]] = {404: NotFound, 409: Conflict}


def api_error(status: int, message: str) -> APIError:
    """Build the most specific :class:`APIError` for ``status``."""
    return _STATUS_ERRORS.get(status, APIError)(status, message)
