"""What the sync and async clients share: options, headers, and reading answers."""

from __future__ import annotations

import ssl
from typing import Any, Dict, Mapping, Optional, Union

import httpx

from ._ops import Call
from ._retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after
from ._version import __version__
from .errors import APIConnectionError, APITimeoutError, JadeVectorDBError, error_for_status

#: The server's default request body limit (server.max_request_body_bytes).
DEFAULT_MAX_REQUEST_BYTES = 1_048_576
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0

TimeoutTypes = Union[float, httpx.Timeout, None]
VerifyTypes = Union[bool, str, ssl.SSLContext]


def ssl_verify(verify: VerifyTypes) -> Union[bool, ssl.SSLContext]:
    """httpx's ``verify`` from ours: a CA bundle path becomes an SSL context (httpx >= 0.28
    no longer takes paths)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


class BaseClient:
    """Options and answer handling common to :class:`Client` and :class:`AsyncClient`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: Optional[str],
        token: Optional[str],
        timeout: TimeoutTypes,
        max_retries: int,
        max_retry_wait: float,
        backoff_base: float,
        backoff_max: float,
        max_request_bytes: int,
        headers: Optional[Mapping[str, str]],
    ) -> None:
        if max_request_bytes < 64:
            raise ValueError("max_request_bytes is too small")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        #: The session token in use (set by :meth:`login`, cleared by :meth:`logout`).
        self.token = token
        self.timeout = timeout
        self.max_request_bytes = max_request_bytes
        self.retry_policy = RetryPolicy(
            max_retries=max_retries, backoff_base=backoff_base, backoff_max=backoff_max, max_retry_wait=max_retry_wait
        )
        self._headers: Dict[str, str] = {
            "Accept": "application/json",
            "User-Agent": f"jadevectordb-python/{__version__}",
        }
        if headers:
            self._headers.update(headers)

    # --- requests ----------------------------------------------------------------------

    def _url(self, call: Call) -> str:
        return self.base_url + call.path

    def _request_headers(self, call: Call) -> Dict[str, str]:
        headers = dict(self._headers)
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        if call.authenticated:
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            elif self.api_key:
                headers["Authorization"] = f"ApiKey {self.api_key}"
        return headers

    # --- answers -----------------------------------------------------------------------

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise APIConnectionError(
                f"the server answered {response.status_code} with a body that is not JSON",
                code="invalid_response",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
            ) from exc

    @staticmethod
    def _error(response: httpx.Response) -> JadeVectorDBError:
        code, message = f"http_{response.status_code}", response.reason_phrase or "HTTP error"
        try:
            error = response.json().get("error")
            if isinstance(error, dict):
                code = str(error.get("code") or code)
                message = str(error.get("message") or message)
        except (ValueError, AttributeError):
            if response.text:
                message = response.text[:500]
        return error_for_status(
            response.status_code,
            code,
            message,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            request_id=response.headers.get("x-request-id"),
        )

    def _outcome(self, call: Call, response: httpx.Response) -> Any:
        """The decoded answer, or raises the error it stands for."""
        if response.is_success or response.status_code in call.ok_statuses:
            return self._decode(response)
        raise self._error(response)

    def _should_retry_status(self, call: Call, response: httpx.Response) -> bool:
        return response.status_code in RETRYABLE_STATUSES and response.status_code not in call.ok_statuses

    @staticmethod
    def _transport_error(exc: httpx.TransportError) -> APIConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"request timed out: {exc!r}", code="client_timeout")
        return APIConnectionError(f"connection failed: {exc!r}", code="connection_error")

    def _store_login(self, answer: Mapping[str, Any]) -> None:
        self.token = answer["token"]
