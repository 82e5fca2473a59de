"""Automatic splitting of large upserts and of id lists; scroll over many vectors."""

from __future__ import annotations

import json
import random
from typing import Callable

import httpx
import pytest

from jadevectordb import Client
from jadevectordb._batching import upsert_bodies

from conftest import RequestLog
from server import ADMIN_PASSWORD, Server


def test_bodies_stay_under_the_limit_and_keep_every_vector() -> None:
    rng = random.Random(7)
    vectors = [
        {"id": f"id-{i}-" + "é" * rng.randrange(0, 40), "values": [rng.random() for _ in range(rng.randrange(1, 64))],
         "metadata": {"text": "x" * rng.randrange(0, 300), "n": i}}
        for i in range(2000)
    ]
    limit = 16 * 1024
    bodies = list(upsert_bodies(iter(vectors), limit))
    assert len(bodies) > 10
    decoded = []
    for body, count in bodies:
        assert len(body) <= limit
        part = json.loads(body)["vectors"]
        assert len(part) == count
        decoded.extend(part)
    assert decoded == vectors
    assert all(count <= 7 for _, count in upsert_bodies(vectors, limit, max_count=7))


def test_a_vector_too_large_for_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_request_bytes"):
        list(upsert_bodies([("big", [0.123456789] * 1000)], 1024))
    with pytest.raises(ValueError):
        list(upsert_bodies([("nan", [float("nan")])], 1024))


def test_large_upsert_is_split_and_complete(server: Server, unique: Callable[[str], str], request_log: RequestLog) -> None:
    rng = random.Random(42)
    total, dim = 3000, 128
    with httpx.Client(event_hooks=request_log.hooks()) as http:
        client = Client(server.url, http_client=http)
        client.login("admin", ADMIN_PASSWORD)
        name = unique("bulk")
        client.create_database(name, dim, metric="cosine")
        request_log.clear()
        vectors = (
            {"id": f"doc-{i:05d}", "values": [rng.uniform(-1, 1) for _ in range(dim)],
             "metadata": {"group": i % 10, "title": f"document number {i}", "even": i % 2 == 0}}
            for i in range(total)
        )
        result = client.upsert(name, vectors)
        puts = [r for r in request_log.requests if r.method == "PUT"]
        assert result.upserted == total
        assert result.requests == len(puts) >= 4  # ~3.4 MB of JSON for a 1 MiB limit
        assert max(len(r.content) for r in puts) <= 1_048_576
        assert all(r.status_code == 200 for r in request_log.responses)

        assert client.count(name) == total
        assert client.count(name, filter={"group": 3}) == total // 10
        request_log.clear()
        ids = [v["id"] for v in client.scroll(name, page_size=700)]
        assert ids == [f"doc-{i:05d}" for i in range(total)]  # every vector once, in id order
        assert len(request_log.requests) == 5  # ceil(3000 / 700)
        filtered = [v["id"] for v in client.scroll(name, filter={"even": True, "group": {"$in": [0, 2]}})]
        assert filtered == [f"doc-{i:05d}" for i in range(total) if i % 10 in (0, 2)]

        request_log.clear()
        wanted = [f"doc-{i:05d}" for i in range(0, total, 2)]  # 1500 ids: two requests
        got = client.get_vectors(name, wanted, include_values=False)
        assert [v["id"] for v in got] == wanted and len(request_log.requests) == 2

        queries = [{"vector": [rng.uniform(-1, 1) for _ in range(dim)], "k": 3} for _ in range(150)]
        request_log.clear()
        results = client.search_batch(name, queries)
        assert len(results) == 150 and all(len(hits) == 3 for hits in results)
        assert len(request_log.requests) == 2  # 100 + 50

        request_log.clear()
        assert client.delete_vectors(name, ids=[f"doc-{i:05d}" for i in range(1200)]) == 1200
        assert len(request_log.requests) == 2
        assert client.count(name) == total - 1200
        client.delete_database(name)
        client.close()


def test_small_request_limit_forces_many_requests(server: Server, unique: Callable[[str], str]) -> None:
    with Client(server.url, max_request_bytes=4096) as client:
        client.login("admin", ADMIN_PASSWORD)
        name = unique("small")
        client.create_database(name, 16)
        result = client.upsert(name, ((f"v{i}", [i + 1.0] * 16) for i in range(300)), max_batch_vectors=50)
        assert result.upserted == 300 and result.requests >= 6
        assert client.count(name) == 300
        client.delete_database(name)
