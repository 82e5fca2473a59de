"""The AsyncClient against a real server: the same surface as the sync client."""

from __future__ import annotations

from typing import Callable

import httpx
import pytest

from jadevectordb import AsyncClient, AuthenticationError, ConflictError, NotFoundError, UpsertResult, ValidationError

from conftest import RequestLog
from server import Server

pytestmark = pytest.mark.anyio


async def test_async_round_trip(server: Server, admin_password: str, unique: Callable[[str], str]) -> None:
    async with AsyncClient(server.url) as client:
        assert (await client.health())["status"] == "ok"
        assert (await client.health_db())["status"] == "healthy"
        await client.login("admin", admin_password)
        assert (await client.me())["user"]["username"] == "admin"

        name = unique("async")
        db = await client.create_database(name, 3, metric="dot", index={"type": "hnsw"})
        assert db["metric"] == "dot" and db["index"]["type"] == "hnsw"
        assert name in [d["name"] for d in await client.list_databases()]
        assert (await client.get_database(name))["dimension"] == 3
        with pytest.raises(ConflictError):
            await client.create_database(name, 3)

        vectors = [(f"v{i:03d}", [float(i), 1.0, 0.5], {"parity": i % 2, "tag": "t"}) for i in range(250)]
        assert await client.upsert(name, vectors) == UpsertResult(upserted=250, requests=1)
        assert (await client.get_vector(name, "v007"))["metadata"] == {"parity": 1, "tag": "t"}
        assert [v["id"] for v in await client.get_vectors(name, ["v002", "v001"])] == ["v002", "v001"]
        assert (await client.update_metadata(name, "v001", {"tag": None}))["metadata"] == {"parity": 1}
        assert await client.count(name) == 250
        assert await client.count(name, filter={"parity": 0}) == 125

        seen = [v["id"] async for v in client.scroll(name, page_size=60)]
        assert seen == sorted(v[0] for v in vectors)
        evens = [v async for v in client.scroll(name, filter={"parity": 0}, include_values=True, include_metadata=False)]
        assert len(evens) == 125 and all("values" in v and "metadata" not in v for v in evens)
        page = await client.scroll_page(name, limit=10)
        assert len(page["vectors"]) == 10

        hits = await client.search(name, [1.0, 0.0, 0.0], k=3, exact=True, include_metadata=True)
        assert [h["id"] for h in hits] == ["v249", "v248", "v247"]
        approx = await client.search(name, [1.0, 0.0, 0.0], k=3, ef=64, filter={"parity": 0}, score_threshold=0.0)
        assert [h["id"] for h in approx] == ["v248", "v246", "v244"]
        batch = await client.search_batch(name, [{"vector": [1, 0, 0], "k": 2, "exact": True}] * 3)
        assert len(batch) == 3 and all([h["id"] for h in hits] == ["v249", "v248"] for hits in batch)

        await client.delete_vector(name, "v000")
        with pytest.raises(NotFoundError):
            await client.get_vector(name, "v000")
        assert await client.delete_vectors(name, ids=["v001", "v002"]) == 2
        assert await client.delete_vectors(name, filter={"parity": 1}) == 124
        assert await client.count(name) == 123
        with pytest.raises(ValidationError) as info:
            await client.search(name, [1.0, 0.0])
        assert info.value.code == "dimension_mismatch"
        await client.delete_database(name)

        key = await client.create_api_key("async key")
        assert key["id"] in [k["id"] for k in await client.list_api_keys()]
        async with AsyncClient(server.url, api_key=key["key"]) as keyed:
            assert (await keyed.me())["credential"].startswith("api_key:")
        await client.revoke_api_key(key["id"])

        await client.logout()
        assert client.token is None
        with pytest.raises(AuthenticationError):
            await client.me()


async def test_async_admin(server: Server, admin_password: str, unique: Callable[[str], str]) -> None:
    async with AsyncClient(server.url) as client:
        await client.login("admin", admin_password)
        user = await client.create_user(unique("carol"), "Carol-Passw0rd!")
        assert (await client.get_user(user["id"]))["roles"] == []
        assert user["id"] in [u["id"] for u in await client.list_users()]
        await client.update_user(user["id"], email="carol@example.com")
        await client.assign_role(user["id"], "viewer")
        await client.remove_role(user["id"], "viewer")
        role = await client.create_role(unique("r"))
        await client.grant_permission(role["name"], "databases:create")
        assert "databases:create" in [r for x in await client.list_roles() if x["name"] == role["name"] for r in x["permissions"]]
        await client.revoke_permission(role["name"], "databases:create")
        group = await client.create_group(unique("g"))
        await client.add_group_member(group["name"], user["id"])
        assert user["id"] in [m for g in await client.list_groups() if g["name"] == group["name"] for m in g["members"]]
        await client.remove_group_member(group["name"], user["id"])
        db = unique("adb")
        await client.create_database(db, 2)
        await client.grant_access(db, f"user:{user['id']}", "database:read")
        assert {"principal": f"user:{user['id']}", "permission": "database:read"} in (await client.get_acl(db))["entries"]
        await client.revoke_access(db, f"user:{user['id']}", "database:read")
        await client.block_ip("198.51.100.9")
        assert "198.51.100.9" in [b["ip"] for b in await client.list_blocked_ips()]
        await client.unblock_ip("198.51.100.9")
        assert await client.audit_log(limit=1)
        await client.delete_user(user["id"])
        await client.delete_database(db)


async def test_async_no_retry_on_404(server: Server, admin_password: str, request_log: RequestLog) -> None:
    async with httpx.AsyncClient(event_hooks=request_log.async_hooks()) as http:
        client = AsyncClient(server.url, http_client=http, max_retries=5)
        await client.login("admin", admin_password)
        request_log.clear()
        with pytest.raises(NotFoundError) as info:
            await client.get_database("does-not-exist")
        assert info.value.code == "not_found"
        assert len(request_log.requests) == 1
