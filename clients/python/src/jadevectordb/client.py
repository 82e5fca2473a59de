"""The synchronous client."""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, TypeVar

import httpx

from . import _ops as ops
from ._base import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_TIMEOUT,
    BaseClient,
    TimeoutTypes,
    VerifyTypes,
    ssl_verify,
)
from ._ops import UNSET, Call, Op, UpsertResult
from .types import (
    Acl,
    ApiKey,
    Database,
    Filter,
    Group,
    IndexOptions,
    LoginResult,
    Role,
    ScrollPage,
    SearchHit,
    User,
    Vector,
    VectorLike,
)

T = TypeVar("T")

__all__ = ["Client"]


class Client(BaseClient):
    """A synchronous JadeVectorDB client (thread-safe as httpx.Client is).

    Args:
        base_url: The server, e.g. ``"http://127.0.0.1:8080"``.
        api_key: An API key (``jvk_…``), sent as ``Authorization: ApiKey …``.
        token: A session token (``jvs_…``), sent as ``Authorization: Bearer …``; takes
            precedence over ``api_key``. :meth:`login` sets it.
        timeout: Seconds per request (or an ``httpx.Timeout``).
        max_retries: Retries of a request answered 429 or 503, or failing to connect
            (connection errors after the request was sent are retried only for idempotent
            requests). Other errors are never retried. 0 disables retries.
        max_retry_wait: Longest single wait between attempts, in seconds (a longer
            Retry-After is shortened to this).
        backoff_base: First backoff without Retry-After, doubled per retry, with jitter.
        backoff_max: Largest backoff without Retry-After.
        verify: TLS verification: ``True``, ``False``, a CA bundle path or an ``ssl.SSLContext``.
        max_request_bytes: Largest request body to send (the server's
            ``server.max_request_body_bytes``, 1 MiB by default); :meth:`upsert` splits its
            vectors to stay under it.
        headers: Extra headers for every request.
        http_client: An ``httpx.Client`` to use instead of creating one (e.g. with event hooks
            or a custom transport); it is not closed by :meth:`close`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: Optional[str] = None,
        token: Optional[str] = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        backoff_base: float = 0.25,
        backoff_max: float = 8.0,
        verify: VerifyTypes = True,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            token=token,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_request_bytes=max_request_bytes,
            headers=headers,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(verify=ssl_verify(verify), timeout=timeout)

    # --- plumbing ----------------------------------------------------------------------

    def close(self) -> None:
        """Closes the connections (unless the httpx client was passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _send(self, call: Call) -> Any:
        policy = self.retry_policy
        retry = 0
        while True:
            try:
                response = self._http.request(
                    call.method,
                    self._url(call),
                    content=call.body,
                    params=call.params,
                    headers=self._request_headers(call),
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                if retry < policy.max_retries and policy.retryable_exception(exc, call.idempotent):
                    time.sleep(policy.delay(retry, None))
                    retry += 1
                    continue
                raise self._transport_error(exc) from exc
            if retry < policy.max_retries and self._should_retry_status(call, response):
                time.sleep(policy.delay(retry, self._error(response).retry_after))
                retry += 1
                continue
            return self._outcome(call, response)

    def _run(self, op: Op[T]) -> T:
        try:
            call = next(op)
            while True:
                call = op.send(self._send(call))
        except StopIteration as done:
            return done.value

    # --- health ------------------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        """Liveness (``GET /health``): status, version, uptime, worker."""
        return self._run(ops.health())

    def health_db(self) -> Dict[str, Any]:
        """Readiness (``GET /health/db``); the body also when the server answers 503
        (``status`` is then ``unavailable`` or ``degraded``). An admin credential adds details."""
        return self._run(ops.health_db())

    # --- authentication ----------------------------------------------------------------

    def login(self, username: str, password: str, totp: Optional[str] = None) -> LoginResult:
        """Logs in and keeps the session token for the following requests.

        Returns the login answer: ``token``, ``expires_at``, ``user`` (and ``restriction``).
        Raises :class:`AuthenticationError` (``unauthenticated`` or ``totp_required``)."""
        answer = self._run(ops.login(username, password, totp))
        self._store_login(answer)
        return answer

    def logout(self) -> None:
        """Ends the current session and forgets its token."""
        self._run(ops.logout())
        self.token = None

    def register(self, username: str, password: str, email: Optional[str] = None) -> User:
        """Registers an account (no role; when the server allows registration)."""
        return self._run(ops.register(username, password, email))

    def me(self) -> Dict[str, Any]:
        """The caller: ``user``, ``roles``, ``groups``, ``permissions``, ``credential``."""
        return self._run(ops.me())

    def change_password(self, current_password: str, new_password: str) -> None:
        """Changes the caller's password (ends their other sessions)."""
        self._run(ops.change_password(current_password, new_password))

    def request_password_reset(self, *, username: Optional[str] = None, email: Optional[str] = None) -> Dict[str, Any]:
        """Asks for a reset token for an account named by exactly one of username / email."""
        return self._run(ops.request_password_reset(username, email))

    def confirm_password_reset(self, token: str, new_password: str) -> None:
        """Sets a new password with a ``jvr_`` reset token."""
        self._run(ops.confirm_password_reset(token, new_password))

    def enroll_totp(self) -> Dict[str, Any]:
        """Starts two-factor enrolment; returns ``{"otpauth_uri": ...}``."""
        return self._run(ops.enroll_totp())

    def verify_totp(self, code: str) -> None:
        """Completes two-factor enrolment with a current code."""
        self._run(ops.verify_totp(code))

    def disable_totp(self, code: str) -> None:
        """Turns two-factor authentication off (needs a current code)."""
        self._run(ops.disable_totp(code))

    # --- API keys ----------------------------------------------------------------------

    def create_api_key(
        self, name: str, *, permissions: Optional[Sequence[str]] = None, expires_in_days: Optional[int] = None
    ) -> ApiKey:
        """Creates an API key for the caller (needs a session). The answer's ``key`` is the
        secret, shown only here. ``permissions`` restricts the key (default: all the owner's)."""
        return self._run(ops.create_api_key(name, permissions, expires_in_days))

    def list_api_keys(self) -> List[ApiKey]:
        """The caller's API keys, revoked ones included, without secrets."""
        return self._run(ops.list_api_keys())

    def revoke_api_key(self, key_id: int) -> None:
        """Revokes an API key by id."""
        self._run(ops.revoke_api_key(key_id))

    # --- admin -------------------------------------------------------------------------

    def list_users(self) -> List[User]:
        """Every user (needs ``users:manage``)."""
        return self._run(ops.list_users())

    def create_user(
        self, username: str, password: str, *, email: Optional[str] = None, roles: Optional[Sequence[str]] = None
    ) -> User:
        """Creates a user with the given roles (needs ``users:manage``)."""
        return self._run(ops.create_user(username, password, email, roles))

    def get_user(self, user_id: int) -> User:
        """One user by id."""
        return self._run(ops.get_user(user_id))

    def update_user(
        self, user_id: int, *, active: Optional[bool] = None, email: Any = UNSET, password: Optional[str] = None
    ) -> User:
        """Updates a user; arguments left out are unchanged, ``email=None`` removes the address,
        ``active=False`` deactivates the account."""
        return self._run(ops.update_user(user_id, active, email, password))

    def delete_user(self, user_id: int) -> None:
        """Deletes a user with their sessions, keys and grants."""
        self._run(ops.delete_user(user_id))

    def assign_role(self, user_id: int, role: str) -> None:
        """Gives a user a role (idempotent)."""
        self._run(ops.assign_role(user_id, role))

    def remove_role(self, user_id: int, role: str) -> None:
        """Takes a role from a user (idempotent)."""
        self._run(ops.remove_role(user_id, role))

    def list_roles(self) -> List[Role]:
        """Built-in and custom roles with their permissions."""
        return self._run(ops.list_roles())

    def create_role(
        self, name: str, *, description: Optional[str] = None, permissions: Optional[Sequence[str]] = None
    ) -> Role:
        """Creates a role (needs ``admin``)."""
        return self._run(ops.create_role(name, description, permissions))

    def grant_permission(self, role: str, permission: str, *, database: Optional[str] = None) -> None:
        """Grants a permission to a role, optionally scoped to one database."""
        self._run(ops.grant_permission(role, permission, database))

    def revoke_permission(self, role: str, permission: str, *, database: Optional[str] = None) -> None:
        """Revokes a permission (with the same scope) from a role."""
        self._run(ops.revoke_permission(role, permission, database))

    def list_groups(self) -> List[Group]:
        """Every group with its members' ids."""
        return self._run(ops.list_groups())

    def create_group(self, name: str) -> Group:
        """Creates an empty group."""
        return self._run(ops.create_group(name))

    def add_group_member(self, group: str, user_id: int) -> None:
        """Adds a user to a group (idempotent)."""
        self._run(ops.add_group_member(group, user_id))

    def remove_group_member(self, group: str, user_id: int) -> None:
        """Removes a user from a group (idempotent)."""
        self._run(ops.remove_group_member(group, user_id))

    def list_blocked_ips(self) -> List[Dict[str, Any]]:
        """Active client address blocks (needs ``admin``)."""
        return self._run(ops.list_blocked_ips())

    def block_ip(
        self,
        ip: str,
        *,
        duration_seconds: Optional[int] = None,
        reason: Optional[str] = None,
        force: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """Blocks a client address (needs ``admin``)."""
        return self._run(ops.block_ip(ip, duration_seconds, reason, force))

    def unblock_ip(self, ip: str) -> None:
        """Lifts a block."""
        self._run(ops.unblock_ip(ip))

    def audit_log(
        self, *, since: Optional[str] = None, limit: Optional[int] = None, type: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Security events, newest first (needs ``admin``)."""
        return self._run(ops.audit_log(since, limit, type))

    # --- databases ---------------------------------------------------------------------

    def create_database(
        self, name: str, dimension: int, *, metric: Optional[str] = None, index: Optional[IndexOptions] = None
    ) -> Database:
        """Creates a database.

        Args:
            name: 1 to 64 letters, digits, ``_`` or ``-``.
            dimension: Values per vector (1 to 4096).
            metric: ``"cosine"`` (default), ``"euclidean"`` or ``"dot"``.
            index: ``{"type": "flat"}`` (default) or
                ``{"type": "hnsw", "m": 16, "ef_construction": 200}``.
        """
        return self._run(ops.create_database(name, dimension, metric, index))

    def list_databases(self) -> List[Database]:
        """The databases the caller may read."""
        return self._run(ops.list_databases())

    def get_database(self, name: str) -> Database:
        """One database with its live vector count (and index state)."""
        return self._run(ops.get_database(name))

    def delete_database(self, name: str) -> None:
        """Deletes a database with its vectors."""
        self._run(ops.delete_database(name))

    def get_acl(self, name: str) -> Acl:
        """The database's ACL entries (needs ``database:admin``)."""
        return self._run(ops.get_acl(name))

    def grant_access(self, name: str, principal: str, permission: str) -> None:
        """Grants ``database:read|write|admin`` to ``user:<id>`` or ``group:<name>``."""
        self._run(ops.grant_access(name, principal, permission))

    def revoke_access(self, name: str, principal: str, permission: str) -> None:
        """Revokes an ACL entry (idempotent)."""
        self._run(ops.revoke_access(name, principal, permission))

    # --- vectors -----------------------------------------------------------------------

    def upsert(
        self, name: str, vectors: Iterable[VectorLike], *, max_batch_vectors: Optional[int] = None
    ) -> UpsertResult:
        """Inserts or replaces any number of vectors.

        The vectors (mappings ``{"id", "values", "metadata"}`` or tuples
        ``(id, values[, metadata])``, read lazily from any iterable) are sent in as many
        requests as needed so that each body stays under ``max_request_bytes`` (and holds at
        most ``max_batch_vectors`` vectors, if given). Each request is all-or-nothing; if one
        fails, the earlier ones stay written and the error is raised.
        """
        return self._run(ops.upsert(name, vectors, self.max_request_bytes, max_batch_vectors))

    def get_vector(self, name: str, vector_id: str) -> Vector:
        """One vector with its values and metadata; :class:`NotFoundError` when absent."""
        return self._run(ops.get_vector(name, vector_id))

    def get_vectors(
        self,
        name: str,
        ids: Iterable[str],
        *,
        include_values: Optional[bool] = None,
        include_metadata: Optional[bool] = None,
    ) -> List[Vector]:
        """Several vectors in the order asked (repeats once, missing ids left out); any number
        of ids (sent 1000 per request). Values and metadata are included by default."""
        return self._run(ops.get_vectors(name, ids, include_values, include_metadata))

    def update_metadata(self, name: str, vector_id: str, metadata: Mapping[str, Any]) -> Vector:
        """Sets the given metadata keys (``None`` removes a key); returns the vector as it is now."""
        return self._run(ops.update_metadata(name, vector_id, metadata))

    def delete_vector(self, name: str, vector_id: str) -> None:
        """Deletes one vector; :class:`NotFoundError` when absent."""
        self._run(ops.delete_vector(name, vector_id))

    def delete_vectors(
        self, name: str, *, ids: Optional[Iterable[str]] = None, filter: Optional[Filter] = None
    ) -> int:
        """Deletes by ids (any number; unknown ones ignored) or by metadata filter (``{}``:
        everything). Give exactly one. Returns how many were deleted."""
        return self._run(ops.delete_vectors(name, ids, filter))

    def count(self, name: str, *, filter: Optional[Filter] = None) -> int:
        """The number of vectors, or of those matching ``filter``."""
        return self._run(ops.count(name, filter))

    def scroll_page(
        self,
        name: str,
        *,
        cursor: Optional[str] = None,
        limit: Optional[int] = None,
        filter: Optional[Filter] = None,
        include_values: Optional[bool] = None,
        include_metadata: Optional[bool] = None,
    ) -> ScrollPage:
        """One page of vectors in id order: ``{"vectors": [...], "next_cursor": ...}``."""
        return self._run(ops.scroll_page(name, cursor, limit, filter, include_values, include_metadata))

    def scroll(
        self,
        name: str,
        *,
        filter: Optional[Filter] = None,
        page_size: int = 100,
        include_values: bool = False,
        include_metadata: bool = True,
    ) -> Iterator[Vector]:
        """Iterates over every vector (matching ``filter``) once, in id order, fetching pages
        of ``page_size`` (1 to 1000) and following ``next_cursor`` lazily."""
        cursor: Optional[str] = None
        while True:
            page = self.scroll_page(
                name,
                cursor=cursor,
                limit=page_size,
                filter=filter,
                include_values=include_values,
                include_metadata=include_metadata,
            )
            yield from page["vectors"]
            cursor = page.get("next_cursor")
            if cursor is None:
                return

    def search(
        self,
        name: str,
        vector: Sequence[float],
        *,
        k: Optional[int] = None,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        exact: Optional[bool] = None,
        score_threshold: Optional[float] = None,
        include_values: Optional[bool] = None,
        include_metadata: Optional[bool] = None,
    ) -> List[SearchHit]:
        """The nearest vectors, best first: ``[{"id", "score"[, "values"][, "metadata"]}]``.

        Args:
            vector: The query, of the database's dimension.
            k: Results at most (1 to 1000; server default 10).
            filter: Metadata filter.
            ef: HNSW search breadth (k to 10000).
            exact: Force an exact scan.
            score_threshold: Keep hits at least this good (similarity >= or distance <=).
            include_values: Add each hit's values.
            include_metadata: Add each hit's metadata.
        """
        query = {
            "vector": vector,
            "k": k,
            "filter": filter,
            "ef": ef,
            "exact": exact,
            "score_threshold": score_threshold,
            "include_values": include_values,
            "include_metadata": include_metadata,
        }
        return self._run(ops.search(name, query))

    def search_batch(self, name: str, queries: Sequence[Mapping[str, Any]]) -> List[List[SearchHit]]:
        """Several searches at once: each query is a mapping with the keyword arguments of
        :meth:`search` (``vector`` required). Returns one hit list per query, in order; any
        number of queries (sent 100 per request)."""
        return self._run(ops.search_batch(name, queries))
