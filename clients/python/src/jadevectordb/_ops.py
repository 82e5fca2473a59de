"""The API's operations, free of I/O.

Each operation is a generator that yields :class:`Call` objects and receives the decoded JSON
answer of each (``None`` for an empty answer), then returns its result. The sync and async
clients drive the same generators, so both have exactly the same behaviour; an operation
that needs several requests (a large upsert, many ids) simply yields several calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Generator, Iterable, List, Mapping, Optional, Sequence, TypeVar, Union
from urllib.parse import quote

from ._batching import chunks, dumps, unique, upsert_bodies
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
Op = Generator["Call", Any, T]

#: Limits from the API contract (docs/openapi.yaml).
MAX_IDS_PER_REQUEST = 1000
MAX_SEARCHES_PER_BATCH = 100
MAX_SCROLL_LIMIT = 1000

_SEARCH_FIELDS = ("vector", "k", "filter", "score_threshold", "ef", "exact", "include_values", "include_metadata")


class _Unset:
    """Marks an argument that was not given (where ``None`` means something)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Call:
    """One HTTP request to make.

    Attributes:
        method: HTTP method.
        path: Path below the base URL, already percent-encoded.
        body: JSON body, already encoded, or ``None``.
        params: Query parameters.
        idempotent: Whether repeating the request is harmless (then connection errors are
            retried too; 429 and 503 are retried for every request, since the server did
            not act on it).
        authenticated: Whether to send the credential.
        ok_statuses: Error statuses to return as answers rather than raise (e.g. 503 from a
            readiness probe); such answers are never retried.
    """

    method: str
    path: str
    body: Optional[bytes] = None
    params: Optional[Mapping[str, str]] = None
    idempotent: bool = True
    authenticated: bool = True
    ok_statuses: FrozenSet[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class UpsertResult:
    """The outcome of :meth:`Client.upsert`.

    Attributes:
        upserted: Vectors written, summed over the requests (an id repeated within one request
            counts once).
        requests: How many requests the vectors were split into.
    """

    upserted: int
    requests: int


def seg(value: Union[str, int]) -> str:
    """One path segment, percent-encoded (``/`` included)."""
    return quote(str(value), safe="")


def _json(method: str, path: str, obj: Mapping[str, Any], **kwargs: Any) -> Call:
    return Call(method, path, dumps(obj), **kwargs)


def _drop_none(obj: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def _db(name: str) -> str:
    return f"/v1/databases/{seg(name)}"


# --- health --------------------------------------------------------------------------------


def health() -> Op[Dict[str, Any]]:
    return (yield Call("GET", "/health", authenticated=False))


def health_db() -> Op[Dict[str, Any]]:
    return (yield Call("GET", "/health/db", ok_statuses=frozenset({503})))


# --- authentication ------------------------------------------------------------------------


def login(username: str, password: str, totp: Optional[str]) -> Op[LoginResult]:
    body = _drop_none({"username": username, "password": password, "totp": totp})
    return (yield _json("POST", "/v1/auth/login", body, idempotent=False, authenticated=False))


def logout() -> Op[None]:
    yield Call("POST", "/v1/auth/logout", idempotent=False)


def register(username: str, password: str, email: Optional[str]) -> Op[User]:
    body = _drop_none({"username": username, "password": password, "email": email})
    answer = yield _json("POST", "/v1/auth/register", body, idempotent=False, authenticated=False)
    return answer["user"]


def me() -> Op[Dict[str, Any]]:
    return (yield Call("GET", "/v1/auth/me"))


def change_password(current_password: str, new_password: str) -> Op[None]:
    body = {"current_password": current_password, "new_password": new_password}
    yield _json("POST", "/v1/auth/password", body, idempotent=False)


def request_password_reset(username: Optional[str], email: Optional[str]) -> Op[Dict[str, Any]]:
    if (username is None) == (email is None):
        raise ValueError("give exactly one of username and email")
    body = _drop_none({"username": username, "email": email})
    return (yield _json("POST", "/v1/auth/password-reset/request", body, idempotent=False, authenticated=False))


def confirm_password_reset(token: str, new_password: str) -> Op[None]:
    body = {"token": token, "new_password": new_password}
    yield _json("POST", "/v1/auth/password-reset/confirm", body, idempotent=False, authenticated=False)


def enroll_totp() -> Op[Dict[str, Any]]:
    return (yield Call("POST", "/v1/auth/2fa/enroll", idempotent=False))


def verify_totp(code: str) -> Op[None]:
    yield _json("POST", "/v1/auth/2fa/verify", {"code": code}, idempotent=False)


def disable_totp(code: str) -> Op[None]:
    yield _json("DELETE", "/v1/auth/2fa", {"code": code}, idempotent=False)


# --- API keys ------------------------------------------------------------------------------


def create_api_key(name: str, permissions: Optional[Sequence[str]], expires_in_days: Optional[int]) -> Op[ApiKey]:
    body = _drop_none(
        {"name": name, "permissions": list(permissions) if permissions is not None else None, "expires_in_days": expires_in_days}
    )
    return (yield _json("POST", "/v1/api-keys", body, idempotent=False))


def list_api_keys() -> Op[List[ApiKey]]:
    return (yield Call("GET", "/v1/api-keys"))["api_keys"]


def revoke_api_key(key_id: int) -> Op[None]:
    yield Call("DELETE", f"/v1/api-keys/{seg(key_id)}")


# --- admin: users, roles, groups, blocked addresses, audit log ------------------------------


def list_users() -> Op[List[User]]:
    return (yield Call("GET", "/v1/admin/users"))["users"]


def create_user(username: str, password: str, email: Optional[str], roles: Optional[Sequence[str]]) -> Op[User]:
    body = _drop_none(
        {"username": username, "password": password, "email": email, "roles": list(roles) if roles is not None else None}
    )
    return (yield _json("POST", "/v1/admin/users", body, idempotent=False))["user"]


def get_user(user_id: int) -> Op[User]:
    return (yield Call("GET", f"/v1/admin/users/{seg(user_id)}"))["user"]


def update_user(user_id: int, active: Optional[bool], email: Any, password: Optional[str]) -> Op[User]:
    body: Dict[str, Any] = _drop_none({"active": active, "password": password})
    if email is not UNSET:
        body["email"] = email  # None removes the address
    return (yield _json("PATCH", f"/v1/admin/users/{seg(user_id)}", body))["user"]


def delete_user(user_id: int) -> Op[None]:
    yield Call("DELETE", f"/v1/admin/users/{seg(user_id)}")


def assign_role(user_id: int, role: str) -> Op[None]:
    yield Call("PUT", f"/v1/admin/users/{seg(user_id)}/roles/{seg(role)}")


def remove_role(user_id: int, role: str) -> Op[None]:
    yield Call("DELETE", f"/v1/admin/users/{seg(user_id)}/roles/{seg(role)}")


def list_roles() -> Op[List[Role]]:
    return (yield Call("GET", "/v1/admin/roles"))["roles"]


def create_role(name: str, description: Optional[str], permissions: Optional[Sequence[str]]) -> Op[Role]:
    body = _drop_none(
        {"name": name, "description": description, "permissions": list(permissions) if permissions is not None else None}
    )
    return (yield _json("POST", "/v1/admin/roles", body, idempotent=False))["role"]


def _scope(database: Optional[str]) -> Optional[Dict[str, str]]:
    return {"database": database} if database else None


def grant_permission(role: str, permission: str, database: Optional[str]) -> Op[None]:
    path = f"/v1/admin/roles/{seg(role)}/permissions/{seg(permission)}"
    yield Call("PUT", path, params=_scope(database))


def revoke_permission(role: str, permission: str, database: Optional[str]) -> Op[None]:
    path = f"/v1/admin/roles/{seg(role)}/permissions/{seg(permission)}"
    yield Call("DELETE", path, params=_scope(database))


def list_groups() -> Op[List[Group]]:
    return (yield Call("GET", "/v1/admin/groups"))["groups"]


def create_group(name: str) -> Op[Group]:
    return (yield _json("POST", "/v1/admin/groups", {"name": name}, idempotent=False))["group"]


def add_group_member(group: str, user_id: int) -> Op[None]:
    yield Call("PUT", f"/v1/admin/groups/{seg(group)}/members/{seg(user_id)}")


def remove_group_member(group: str, user_id: int) -> Op[None]:
    yield Call("DELETE", f"/v1/admin/groups/{seg(group)}/members/{seg(user_id)}")


def list_blocked_ips() -> Op[List[Dict[str, Any]]]:
    return (yield Call("GET", "/v1/admin/blocked-ips"))["blocked_ips"]


def block_ip(ip: str, duration_seconds: Optional[int], reason: Optional[str], force: Optional[bool]) -> Op[Dict[str, Any]]:
    body = _drop_none({"ip": ip, "duration_seconds": duration_seconds, "reason": reason, "force": force})
    return (yield _json("POST", "/v1/admin/blocked-ips", body))["blocked_ip"]


def unblock_ip(ip: str) -> Op[None]:
    yield Call("DELETE", f"/v1/admin/blocked-ips/{seg(ip)}")


def audit_log(since: Optional[str], limit: Optional[int], type: Optional[str]) -> Op[List[Dict[str, Any]]]:
    params = {k: str(v) for k, v in (("since", since), ("limit", limit), ("type", type)) if v is not None}
    return (yield Call("GET", "/v1/admin/audit-log", params=params or None))["events"]


# --- databases -----------------------------------------------------------------------------


def create_database(name: str, dimension: int, metric: Optional[str], index: Optional[IndexOptions]) -> Op[Database]:
    body = _drop_none({"name": name, "dimension": dimension, "metric": metric, "index": dict(index) if index else None})
    return (yield _json("POST", "/v1/databases", body, idempotent=False))["database"]


def list_databases() -> Op[List[Database]]:
    return (yield Call("GET", "/v1/databases"))["databases"]


def get_database(name: str) -> Op[Database]:
    return (yield Call("GET", _db(name)))["database"]


def delete_database(name: str) -> Op[None]:
    yield Call("DELETE", _db(name))


def get_acl(name: str) -> Op[Acl]:
    return (yield Call("GET", f"{_db(name)}/acl"))


def grant_access(name: str, principal: str, permission: str) -> Op[None]:
    yield _json("PUT", f"{_db(name)}/acl", {"principal": principal, "permission": permission})


def revoke_access(name: str, principal: str, permission: str) -> Op[None]:
    yield _json("DELETE", f"{_db(name)}/acl", {"principal": principal, "permission": permission})


# --- vectors -------------------------------------------------------------------------------


def upsert(name: str, vectors: Iterable[VectorLike], max_bytes: int, max_count: Optional[int]) -> Op[UpsertResult]:
    upserted = requests = 0
    for body, _count in upsert_bodies(vectors, max_bytes, max_count):
        answer = yield Call("PUT", f"{_db(name)}/vectors", body)
        upserted += int(answer["upserted"])
        requests += 1
    return UpsertResult(upserted=upserted, requests=requests)


def get_vector(name: str, vector_id: str) -> Op[Vector]:
    return (yield Call("GET", f"{_db(name)}/vectors/{seg(vector_id)}"))


def get_vectors(
    name: str, ids: Iterable[str], include_values: Optional[bool], include_metadata: Optional[bool]
) -> Op[List[Vector]]:
    found: List[Vector] = []
    for part in chunks(unique(ids), MAX_IDS_PER_REQUEST):
        body = _drop_none({"ids": list(part), "include_values": include_values, "include_metadata": include_metadata})
        found.extend((yield _json("POST", f"{_db(name)}/vectors/get", body))["vectors"])
    return found


def update_metadata(name: str, vector_id: str, metadata: Mapping[str, Any]) -> Op[Vector]:
    return (yield _json("PATCH", f"{_db(name)}/vectors/{seg(vector_id)}", {"metadata": dict(metadata)}))


def delete_vector(name: str, vector_id: str) -> Op[None]:
    yield Call("DELETE", f"{_db(name)}/vectors/{seg(vector_id)}")


def delete_vectors(name: str, ids: Optional[Iterable[str]], filter: Optional[Filter]) -> Op[int]:
    if (ids is None) == (filter is None):
        raise ValueError("give exactly one of ids and filter")
    path = f"{_db(name)}/vectors/delete"
    if filter is not None:
        return int((yield _json("POST", path, {"filter": dict(filter)}))["deleted"])
    deleted = 0
    for part in chunks(unique(ids or ()), MAX_IDS_PER_REQUEST):
        deleted += int((yield _json("POST", path, {"ids": list(part)}))["deleted"])
    return deleted


def count(name: str, filter: Optional[Filter]) -> Op[int]:
    body = _drop_none({"filter": dict(filter) if filter is not None else None})
    return int((yield _json("POST", f"{_db(name)}/count", body))["count"])


def scroll_page(
    name: str,
    cursor: Optional[str],
    limit: Optional[int],
    filter: Optional[Filter],
    include_values: Optional[bool],
    include_metadata: Optional[bool],
) -> Op[ScrollPage]:
    body = _drop_none(
        {
            "cursor": cursor,
            "limit": limit,
            "filter": dict(filter) if filter is not None else None,
            "include_values": include_values,
            "include_metadata": include_metadata,
        }
    )
    return (yield _json("POST", f"{_db(name)}/vectors/scroll", body))


def search_body(query: Mapping[str, Any]) -> Dict[str, Any]:
    """One search body from keyword-style fields, ``None`` dropped and the vector listed."""
    unknown = set(query) - set(_SEARCH_FIELDS)
    if unknown:
        raise ValueError(f"unknown search field(s): {sorted(unknown)}")
    if "vector" not in query:
        raise ValueError("a search needs 'vector'")
    body = _drop_none(query)
    vector = body["vector"]
    body["vector"] = vector.tolist() if hasattr(vector, "tolist") else list(vector)
    if body.get("filter") is not None:
        body["filter"] = dict(body["filter"])
    return body


def search(name: str, query: Mapping[str, Any]) -> Op[List[SearchHit]]:
    return (yield _json("POST", f"{_db(name)}/search", search_body(query)))["results"]


def search_batch(name: str, queries: Sequence[Mapping[str, Any]]) -> Op[List[List[SearchHit]]]:
    bodies = [search_body(q) for q in queries]
    results: List[List[SearchHit]] = []
    for part in chunks(bodies, MAX_SEARCHES_PER_BATCH):
        results.extend((yield _json("POST", f"{_db(name)}/search/batch", {"searches": list(part)}))["results"])
    return results
