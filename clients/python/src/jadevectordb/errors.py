"""Exceptions raised by the JadeVectorDB client.

Every error the server answers is JSON ``{"error": {"code": ..., "message": ...}}``; the client
turns it into an exception of the class matching the HTTP status, carrying the server's
``code``, ``message``, ``status``, ``retry_after`` (seconds, when the server sent Retry-After)
and ``request_id`` (the server's X-Request-Id, to find the request in its log).
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
    "JadeVectorDBError",
    "APIConnectionError",
    "APITimeoutError",
    "ValidationError",
    "PayloadTooLargeError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitedError",
    "ServerError",
    "UnavailableError",
    "error_for_status",
]


class JadeVectorDBError(Exception):
    """Base class of every error raised by this package.

    Attributes:
        code: The server's machine-readable error code (e.g. ``"not_found"``), or a client-side
            code such as ``"connection_error"`` when no answer was received.
        message: The server's human-readable message.
        status: The HTTP status, or ``None`` when no answer was received.
        retry_after: Seconds the server asked to wait (the Retry-After header), if any.
        request_id: The server's X-Request-Id for the failed request, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r}, retry_after={self.retry_after!r})"
        )


class APIConnectionError(JadeVectorDBError):
    """No usable answer: the connection failed, was reset, or the server sent garbage."""


class APITimeoutError(APIConnectionError):
    """The request timed out on the client side (see the ``timeout`` option)."""


class ValidationError(JadeVectorDBError):
    """400 or 422: the request broke a rule (``invalid_request``, ``dimension_mismatch``,
    ``weak_password``, ``response_too_large``...). Never retried."""


class PayloadTooLargeError(ValidationError):
    """413 ``payload_too_large``: the body exceeded the server's request size limit."""


class AuthenticationError(JadeVectorDBError):
    """401: missing, wrong, expired or revoked credentials (``unauthenticated``,
    ``totp_required``)."""


class PermissionDeniedError(JadeVectorDBError):
    """403: the credential lacks the permission (``forbidden``), the session is restricted, or
    the client address is blocked (``ip_blocked``)."""


class NotFoundError(JadeVectorDBError):
    """404 ``not_found``: the database, vector, user, role, group or key does not exist."""


class ConflictError(JadeVectorDBError):
    """409 ``conflict``: the request conflicts with the current state (e.g. name taken)."""


class RateLimitedError(JadeVectorDBError):
    """429 ``rate_limited``: raised once the client's retries are used up."""


class ServerError(JadeVectorDBError):
    """5xx other than 503: the server failed (``internal_error``)."""


class UnavailableError(ServerError):
    """503: ``unavailable``, ``read_only``, ``timeout`` or ``overloaded``; raised once the
    client's retries are used up. ``code`` says which."""


_BY_STATUS: Dict[int, Type[JadeVectorDBError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: ValidationError,
    429: RateLimitedError,
    503: UnavailableError,
}


def error_for_status(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: Optional[float] = None,
    request_id: Optional[str] = None,
) -> JadeVectorDBError:
    """Builds the exception of the class that matches an HTTP error status."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else JadeVectorDBError
    return cls(message, code=code, status=status, retry_after=retry_after, request_id=request_id)
