"""Shapes of the JSON objects the server answers (for type checkers; at run time they are
plain ``dict``s). Objects may carry more fields than listed: newer servers add fields."""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

if sys.version_info >= (3, 8):
    from typing import TypedDict
else:  # pragma: no cover
    from typing_extensions import TypedDict

__all__ = [
    "MetadataValue",
    "Metadata",
    "Filter",
    "VectorLike",
    "IndexOptions",
    "Database",
    "Vector",
    "SearchHit",
    "ScrollPage",
    "User",
    "Role",
    "Group",
    "ApiKey",
    "LoginResult",
    "AclEntry",
    "Acl",
]

#: A metadata value: metadata is flat.
MetadataValue = Union[str, int, float, bool]
#: Flat metadata of a vector.
Metadata = Dict[str, MetadataValue]
#: A metadata filter, e.g. ``{"category": "shoes", "price": {"$lt": 100}}`` (see the API docs
#: for ``$eq $ne $gt $gte $lt $lte $in $nin $or $not``).
Filter = Mapping[str, Any]
#: A vector to upsert: ``{"id": ..., "values": [...], "metadata": {...}}`` (metadata optional),
#: or a tuple ``(id, values)`` / ``(id, values, metadata)``. ``values`` may be any sequence of
#: numbers or an object with ``tolist()`` (e.g. a NumPy array).
VectorLike = Union[Mapping[str, Any], Tuple[str, Sequence[float]], Tuple[str, Sequence[float], Optional[Mapping[str, Any]]]]
#: Index options for a new database: ``{"type": "flat"}`` or
#: ``{"type": "hnsw", "m": 16, "ef_construction": 200}``.
IndexOptions = Mapping[str, Any]


class Database(TypedDict, total=False):
    name: str
    dimension: int
    metric: str
    vector_count: int
    created_at: str
    index: Dict[str, Any]


class Vector(TypedDict, total=False):
    id: str
    values: List[float]
    metadata: Metadata


class SearchHit(TypedDict, total=False):
    id: str
    score: float
    values: List[float]
    metadata: Metadata


class ScrollPage(TypedDict):
    vectors: List[Vector]
    next_cursor: Optional[str]


class User(TypedDict, total=False):
    id: int
    username: str
    email: Optional[str]
    active: bool
    created_at: str
    totp_enabled: bool
    locked: bool
    roles: List[str]
    groups: List[str]


class Role(TypedDict, total=False):
    name: str
    builtin: bool
    description: str
    permissions: List[str]


class Group(TypedDict, total=False):
    name: str
    members: List[int]


class ApiKey(TypedDict, total=False):
    id: int
    name: str
    prefix: str
    permissions: Optional[List[str]]
    created_at: str
    expires_at: Optional[str]
    revoked: bool
    last_used_at: Optional[str]
    key: str  # only in the answer to create_api_key


class LoginResult(TypedDict, total=False):
    token: str
    expires_at: str
    user: User
    restriction: str


class AclEntry(TypedDict):
    principal: str
    permission: str


class Acl(TypedDict):
    database: str
    entries: List[AclEntry]
