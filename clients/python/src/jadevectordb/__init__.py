"""JadeVectorDB Python client.

>>> from jadevectordb import Client
>>> with Client("http://127.0.0.1:8080") as client:
...     client.login("admin", "...")                       # doctest: +SKIP
...     client.create_database("docs", dimension=3)         # doctest: +SKIP

:class:`Client` is synchronous, :class:`AsyncClient` its asyncio twin; errors are
:class:`JadeVectorDBError` subclasses (see :mod:`jadevectordb.errors`).
"""

from ._ops import UpsertResult
from ._retry import RetryPolicy
from ._version import __version__
from .async_client import AsyncClient
from .client import Client
from .errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    JadeVectorDBError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    UnavailableError,
    ValidationError,
)

__all__ = [
    "__version__",
    "Client",
    "AsyncClient",
    "UpsertResult",
    "RetryPolicy",
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
]
