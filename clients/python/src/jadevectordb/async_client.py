"""The asyncio client: the same surface as :class:`~jadevectordb.Client`, every method a
coroutine (and :meth:`AsyncClient.scroll` an async iterator)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, Iterable, List, Mapping, Optional, Sequence, TypeVar

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

__all__ = ["AsyncClient"]


class AsyncClient(BaseClient):
    """An asyncio JadeVectorDB client; see :class:`~jadevectordb.Client` for the arguments and
    the methods (identical, but awaited). Use ``async with AsyncClient(...) as client:`` or
    call :meth:`aclose`. ``http_client`` takes an ``httpx.AsyncClient``."""

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
        http_client: Optional[httpx.AsyncClient] = None,
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
        self._http = (
            http_client if http_client is not None else httpx.AsyncClient(verify=ssl_verify(verify), timeout=timeout)
        )

    # --- plumbing ----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Closes the connections (unless the httpx client was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> Any:
        policy = self.retry_policy
        retry = 0
        while True:
            try:
                response = await self._http.request(
                    call.method,
                    self._url(call),
                    content=call.body,
                    params=call.params,
                    headers=self._request_headers(call),
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                if retry < policy.max_retries and policy.retryable_exception(exc, call.idempotent):
                    await asyncio.sleep(policy.delay(retry, None))
                    retry += 1
                    continue
                raise self._transport_error(exc) from exc
            if retry < policy.max_retries and self._should_retry_status(call, response):
                await asyncio.sleep(policy.delay(retry, self._error(response).retry_after))
                retry += 1
                continue
            return self._outcome(call, response)

    async def _run(self, op: Op[T]) -> T:
        try:
            call = next(op)
            while True:
                call = op.send(await self._send(call))
        except StopIteration as done:
            return done.value

    # --- health ------------------------------------------------------------------------

    async def health(self) -> Dict[str, Any]:
        """Liveness (``GET /health``): status, version, uptime, worker."""
        return await self._run(ops.health())

    async def health_db(self) -> Dict[str, Any]:
        """Readiness (``GET /health/db``); the body also when the server answers 503
        (``status`` is then ``unavailable`` or ``degraded``). An admin credential adds details."""
        return await self._run(ops.health_db())

    # --- authentication ----------------------------------------------------------------

    async def login(self, username: str, password: str, totp: Optional[str] = None) -> LoginResult:
        """Logs in and keeps the session token for the following requests.

        Returns the login answer: ``token``, ``expires_at``, ``user`` (and ``restriction``).
        Raises :class:`AuthenticationError` (``unauthenticated`` or ``totp_required``)."""
        answer = await self._run(ops.login(username, password, totp))
        self._store_login(answer)
        return answer

    async def logout(self) -> None:
        """Ends the current session and forgets its token."""
        await self._run(ops.logout())
        self.token = None

    async def register(self, username: str, password: str, email: Optional[str] = None) -> User:
        """Registers an account (no role; when the server allows registration)."""
        return await self._run(ops.register(username, password, email))

    async def me(self) -> Dict[str, Any]:
        """The caller: ``user``, ``roles``, ``groups``, ``permissions``, ``credential``."""
        return await self._run(ops.me())

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Changes the caller's password (ends their other sessions)."""
        await self._run(ops.change_password(current_password, new_password))

    async def request_password_reset(self, *, username: Optional[str] = None, email: Optional[str] = None) -> Dict[str, Any]:
        """Asks for a reset token for an account named by exactly one of username / email."""
        return await self._run(ops.request_password_reset(username, email))

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        """Sets a new password with a ``jvr_`` reset token."""
        await self._run(ops.confirm_password_reset(token, new_password))

    async def enroll_totp(self) -> Dict[str, Any]:
        """Starts two-factor enrolment; returns ``{"otpauth_uri": ...}``."""
        return await self._run(ops.enroll_totp())

    async def verify_totp(self, code: str) -> None:
        """Completes two-factor enrolment with a current code."""
        await self._run(ops.verify_totp(code))

    async def disable_totp(self, code: str) -> None:
        """Turns two-factor authentication off (needs a current code)."""
        await self._run(ops.disable_totp(code))

    # --- API keys ----------------------------------------------------------------------

    async def create_api_key(
        self, name: str, *, permissions: Optional[Sequence[str]] = None, expires_in_days: Optional[int] = None
    ) -> ApiKey:
        """Creates an API key for the caller (needs a session). The answer's ``key`` is the
        secret, shown only here. ``permissions`` restricts the key (default: all the owner's)."""
        return await self._run(ops.create_api_key(name, permissions, expires_in_days))

    async def list_api_keys(self) -> List[ApiKey]:
        """The caller's API keys, revoked ones included, without secrets."""
        return await self._run(ops.list_api_keys())

    async def revoke_api_key(self, key_id: int) -> None:
        """Revokes an API key by id."""
        await self._run(ops.revoke_api_key(key_id))

    # --- admin -------------------------------------------------------------------------

    async def list_users(self) -> List[User]:
        """Every user (needs ``users:manage``)."""
        return await self._run(ops.list_users())

    async def create_user(
        self, username: str, password: str, *, email: Optional[str] = None, roles: Optional[Sequence[str]] = None
    ) -> User:
        """Creates a user with the given roles (needs ``users:manage``)."""
        return await self._run(ops.create_user(username, password, email, roles))

    async def get_user(self, user_id: int) -> User:
        """One user by id."""
        return await self._run(ops.get_user(user_id))

    async def update_user(
        self, user_id: int, *, active: Optional[bool] = None, email: Any = UNSET, password: Optional[str] = None
    ) -> User:
        """Updates a user; arguments left out are unchanged, ``email=None`` removes the address,
        ``active=False`` deactivates the account."""
        return await self._run(ops.update_user(user_id, active, email, password))

    async def delete_user(self, user_id: int) -> None:
        """Deletes a user with their sessions, keys and grants."""
        await self._run(ops.delete_user(user_id))

    async def assign_role(self, user_id: int, role: str) -> None:
        """Gives a user a role (idempotent)."""
        await self._run(ops.assign_role(user_id, role))

    async def remove_role(self, user_id: int, role: str) -> None:
        """Takes a role from a user (idempotent)."""
        await self._run(ops.remove_role(user_id, role))

    async def list_roles(self) -> List[Role]:
        """Built-in and custom roles with their permissions."""
        return await self._run(ops.list_roles())

    async def create_role(
        self, name: str, *, description: Optional[str] = None, permissions: Optional[Sequence[str]] = None
    ) -> Role:
        """Creates a role (needs ``admin``)."""
        return await self._run(ops.create_role(name, description, permissions))

    async def grant_permission(self, role: str, permission: str, *, database: Optional[str] = None) -> None:
        """Grants a permission to a role, optionally scoped to one database."""
        await self._run(ops.grant_permission(role, permission, database))

    async def revoke_permission(self, role: str, permission: str, *, database: Optional[str] = None) -> None:
        """Revokes a permission (with the same scope) from a role."""
        await self._run(ops.revoke_permission(role, permission, database))

    async def list_groups(self) -> List[Group]:
        """Every group with its members' ids."""
        return await self._run(ops.list_groups())

    async def create_group(self, name: str) -> Group:
        """Creates an empty group."""
        return await self._run(ops.create_group(name))

    async def add_group_member(self, group: str, user_id: int) -> None:
        """Adds a user to a group (idempotent)."""
        await self._run(ops.add_group_member(group, user_id))

    async def remove_group_member(self, group: str, user_id: int) -> None:
        """Removes a user from a group (idempotent)."""
        await self._run(ops.remove_group_member(group, user_id))

    async def list_blocked_ips(self) -> List[Dict[str, Any]]:
        """Active client address blocks (needs ``admin``)."""
        return await self._run(ops.list_blocked_ips())

    async def block_ip(
        self,
        ip: str,
        *,
        duration_seconds: Optional[int] = None,
        reason: Optional[str] = None,
        force: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """Blocks a client address (needs ``admin``)."""
        return await self._run(ops.block_ip(ip, duration_seconds, reason, force))

    async def unblock_ip(self, ip: str) -> None:
        """Lifts a block."""
        await self._run(ops.unblock_ip(ip))

    async def audit_log(
        self, *, since: Optional[str] = None, limit: Optional[int] = None, type: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Security events, newest first (needs ``admin``)."""
        return await self._run(ops.audit_log(since, limit, type))

    # --- databases ---------------------------------------------------------------------

    async def create_database(
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
        return await self._run(ops.create_database(name, dimension, metric, index))

    async def list_databases(self) -> List[Database]:
        """The databases the caller may read."""
        return await self._run(ops.list_databases())

    async def get_database(self, name: str) -> Database:
        """One database with its live vector count (and index state)."""
        return await self._run(ops.get_database(name))

    async def delete_database(self, name: str) -> None:
        """Deletes a database with its vectors."""
        await self._run(ops.delete_database(name))

    async def get_acl(self, name: str) -> Acl:
        """The database's ACL entries (needs ``database:admin``)."""
        return await self._run(ops.get_acl(name))

    async def grant_access(self, name: str, principal: str, permission: str) -> None:
        """Grants ``database:read|write|admin`` to ``user:<id>`` or ``group:<name>``."""
        await self._run(ops.grant_access(name, principal, permission))

    async def revoke_access(self, name: str, principal: str, permission: str) -> None:
        """Revokes an ACL entry (idempotent)."""
        await self._run(ops.revoke_access(name, principal, permission))

    # --- vectors -----------------------------------------------------------------------

    async def upsert(
        self, name: str, vectors: Iterable[VectorLike], *, max_batch_vectors: Optional[int] = None
    ) -> UpsertResult:
        """Inserts or replaces any number of vectors.

        The vectors (mappings ``{"id", "values", "metadata"}`` or tuples
        ``(id, values[, metadata])``, read lazily from any iterable) are sent in as many
        requests as needed so that each body stays under ``max_request_bytes`` (and holds at
        most ``max_batch_vectors`` vectors, if given). Each request is all-or-nothing; if one
        fails, the earlier ones stay written and the error is raised.
        """
        return await self._run(ops.upsert(name, vectors, self.max_request_bytes, max_batch_vectors))

    async def get_vector(self, name: str, vector_id: str) -> Vector:
        """One vector with its values and metadata; :class:`NotFoundError` when absent."""
        return await self._run(ops.get_vector(name, vector_id))

    async def get_vectors(
        self,
        name: str,
        ids: Iterable[str],
        *,
        include_values: Optional[bool] = None,
        include_metadata: Optional[bool] = None,
    ) -> List[Vector]:
        """Several vectors in the order asked (repeats once, missing ids left out); any number
        of ids (sent 1000 per request). Values and metadata are included by default."""
        return await self._run(ops.get_vectors(name, ids, include_values, include_metadata))

    async def update_metadata(self, name: str, vector_id: str, metadata: Mapping[str, Any]) -> Vector:
        """Sets the given metadata keys (``None`` removes a key); returns the vector as it is now."""
        return await self._run(ops.update_metadata(name, vector_id, metadata))

    async def delete_vector(self, name: str, vector_id: str) -> None:
        """Deletes one vector; :class:`NotFoundError` when absent."""
        await self._run(ops.delete_vector(name, vector_id))

    async def delete_vectors(
        self, name: str, *, ids: Optional[Iterable[str]] = None, filter: Optional[Filter] = None
    ) -> int:
        """Deletes by ids (any number; unknown ones ignored) or by metadata filter (``{}``:
        everything). Give exactly one. Returns how many were deleted."""
        return await self._run(ops.delete_vectors(name, ids, filter))

    async def count(self, name: str, *, filter: Optional[Filter] = None) -> int:
        """The number of vectors, or of those matching ``filter``."""
        return await self._run(ops.count(name, filter))

    async def scroll_page(
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
        return await self._run(ops.scroll_page(name, cursor, limit, filter, include_values, include_metadata))

    async def scroll(
        self,
        name: str,
        *,
        filter: Optional[Filter] = None,
        page_size: int = 100,
        include_values: bool = False,
        include_metadata: bool = True,
    ) -> AsyncIterator[Vector]:
        """Iterates over every vector (matching ``filter``) once, in id order, fetching pages
        of ``page_size`` (1 to 1000) and following ``next_cursor`` lazily."""
        cursor: Optional[str] = None
        while True:
            page = await self.scroll_page(
                name,
                cursor=cursor,
                limit=page_size,
                filter=filter,
                include_values=include_values,
                include_metadata=include_metadata,
            )
            for vector in page["vectors"]:
                yield vector
            cursor = page.get("next_cursor")
            if cursor is None:
                return

    async def search(
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
        return await self._run(ops.search(name, query))

    async def search_batch(self, name: str, queries: Sequence[Mapping[str, Any]]) -> List[List[SearchHit]]:
        """Several searches at once: each query is a mapping with the keyword arguments of
        :meth:`search` (``vector`` required). Returns one hit list per query, in order; any
        number of queries (sent 100 per request)."""
        return await self._run(ops.search_batch(name, queries))
