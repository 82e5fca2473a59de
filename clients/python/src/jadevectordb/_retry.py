"""When to retry a request and how long to wait first (no I/O here)."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import httpx

#: Statuses worth retrying: the server refused for now, not for good.
RETRYABLE_STATUSES = frozenset({429, 503})

#: Transport failures that happen before the request reaches the server: safe to retry for
#: any request, idempotent or not.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring the server's Retry-After.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        backoff_base: First backoff in seconds, doubled on each further retry.
        backoff_max: Largest computed backoff in seconds.
        max_retry_wait: Largest single wait in seconds, Retry-After included: a longer
            Retry-After is shortened to this.
    """

    max_retries: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_retry_wait: float = 30.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.max_retry_wait < 0:
            raise ValueError("backoff_base, backoff_max and max_retry_wait must be 0 or more")

    def delay(self, retry: int, retry_after: Optional[float]) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry).

        With a Retry-After the wait is that long plus up to 10 % jitter (never shorter, so the
        server's window has passed); without one it is an "equal jitter" exponential backoff.
        Either way it is capped at ``max_retry_wait``.
        """
        if retry_after is not None:
            wait = retry_after + retry_after * 0.1 * self.random()
            # Do not cut below the server's own figure unless the cap forces it.
            return min(max(wait, retry_after), self.max_retry_wait)
        exp = min(self.backoff_max, self.backoff_base * (2.0 ** retry))
        return min(exp / 2 + exp / 2 * self.random(), self.max_retry_wait)

    @staticmethod
    def retryable_exception(exc: Exception, idempotent: bool) -> bool:
        """Whether a transport error may be retried: always when the request was never sent,
        otherwise only for idempotent requests."""
        if isinstance(exc, _NOT_SENT):
            return True
        return idempotent and isinstance(exc, httpx.TransportError)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Parses a Retry-After header: delta seconds (the server's form) or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds)
