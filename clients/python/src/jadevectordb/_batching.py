"""Turning vectors into request bodies, split so that each stays under the body limit."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar

from .types import VectorLike

T = TypeVar("T")

_PREFIX = b'{"vectors":['
_SUFFIX = b"]}"


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities are refused (the server would answer 400)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _values(values: Any) -> List[Any]:
    if hasattr(values, "tolist"):  # NumPy arrays and the like
        values = values.tolist()
    return list(values)


def normalize_vector(item: VectorLike) -> Dict[str, Any]:
    """A vector as the API wants it: ``{"id", "values"[, "metadata"]}``."""
    if isinstance(item, Mapping):
        if "id" not in item or "values" not in item:
            raise ValueError("a vector needs 'id' and 'values'")
        unknown = set(item) - {"id", "values", "metadata"}
        if unknown:
            raise ValueError(f"unknown vector field(s): {sorted(unknown)}")
        vid, values, metadata = item["id"], item["values"], item.get("metadata")
    elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
        vid, values = item[0], item[1]
        metadata = item[2] if len(item) == 3 else None
    else:
        raise TypeError("a vector is a mapping {'id', 'values', 'metadata'} or a tuple (id, values[, metadata])")
    if not isinstance(vid, str):
        raise TypeError(f"vector id must be a str, not {type(vid).__name__}")
    out: Dict[str, Any] = {"id": vid, "values": _values(values)}
    if metadata:
        out["metadata"] = dict(metadata)
    return out


def upsert_bodies(
    vectors: Iterable[VectorLike], max_bytes: int, max_count: Optional[int] = None
) -> Iterator[Tuple[bytes, int]]:
    """Yields ``(body, vector_count)`` for successive upsert requests.

    Each vector is serialized once; a batch is closed as soon as the next vector would push the
    body over ``max_bytes`` (exact byte counts, not estimates) or the batch holds ``max_count``
    vectors. The input is consumed lazily, so a generator of any length works.

    Raises:
        ValueError: A single vector does not fit in ``max_bytes`` on its own.
    """
    overhead = len(_PREFIX) + len(_SUFFIX)
    batch: List[bytes] = []
    size = overhead
    for index, item in enumerate(vectors):
        encoded = dumps(normalize_vector(item))
        if overhead + len(encoded) > max_bytes:
            raise ValueError(
                f"vector #{index} takes {len(encoded)} bytes of JSON, more than max_request_bytes={max_bytes} allows"
            )
        extra = len(encoded) + (1 if batch else 0)  # the comma
        if batch and (size + extra > max_bytes or (max_count is not None and len(batch) >= max_count)):
            yield _PREFIX + b",".join(batch) + _SUFFIX, len(batch)
            batch, size, extra = [], overhead, len(encoded)
        batch.append(encoded)
        size += extra
    if batch:
        yield _PREFIX + b",".join(batch) + _SUFFIX, len(batch)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Successive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unique(items: Iterable[T]) -> List[T]:
    """The items without repeats, first occurrence kept, order preserved."""
    seen: Dict[T, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
