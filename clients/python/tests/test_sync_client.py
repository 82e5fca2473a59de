"""Every method of the sync Client against a real server."""

from __future__ import annotations

from typing import Callable

import pytest

from jadevectordb import AuthenticationError, Client, NotFoundError, UpsertResult

from server import Server


def test_health(client: Client) -> None:
    assert client.health()["status"] == "ok"
    ready = client.health_db()
    assert ready["status"] == "healthy"
    assert ready["database"]["read_only"] is False


def test_login_me_logout(server: Server, admin_password: str) -> None:
    with Client(server.url) as c:
        answer = c.login("admin", admin_password)
        assert answer["token"].startswith("jvs_") and c.token == answer["token"]
        assert answer["user"]["username"] == "admin"
        me = c.me()
        assert me["credential"] == "session" and "admin" in me["permissions"]
        token = c.token
        c.logout()
        assert c.token is None
    with Client(server.url, token=token) as stale:
        with pytest.raises(AuthenticationError) as info:
            stale.me()
        assert info.value.code == "unauthenticated" and info.value.status == 401


def test_database_lifecycle(client: Client, unique: Callable[[str], str]) -> None:
    name = unique("lifecycle")
    created = client.create_database(name, 4, metric="euclidean")
    assert created["name"] == name and created["dimension"] == 4 and created["metric"] == "euclidean"
    assert created["vector_count"] == 0
    assert name in [d["name"] for d in client.list_databases()]
    assert client.get_database(name)["index"]["type"] == "flat"
    hnsw = client.create_database(unique("hnsw"), 8, index={"type": "hnsw", "m": 8, "ef_construction": 64})
    assert hnsw["metric"] == "cosine"
    assert hnsw["index"]["type"] == "hnsw" and hnsw["index"]["m"] == 8 and hnsw["index"]["ef_construction"] == 64
    client.delete_database(name)
    client.delete_database(hnsw["name"])
    with pytest.raises(NotFoundError):
        client.get_database(name)


def test_vectors_round_trip(client: Client, unique: Callable[[str], str]) -> None:
    name = unique("vectors")
    client.create_database(name, 3, metric="cosine")
    odd_id = "odd/id with spaces?&#ü"
    result = client.upsert(
        name,
        [
            {"id": "a", "values": [1.0, 0.0, 0.0], "metadata": {"color": "red", "size": 1, "ok": True}},
            ("b", [0.0, 1.0, 0.0], {"color": "blue", "size": 2}),
            (odd_id, [0.0, 0.0, 1.0]),
        ],
    )
    assert result == UpsertResult(upserted=3, requests=1)

    assert client.get_vector(name, "a") == {
        "id": "a",
        "values": [1.0, 0.0, 0.0],
        "metadata": {"color": "red", "size": 1, "ok": True},
    }
    assert client.get_vector(name, odd_id)["metadata"] == {}

    many = client.get_vectors(name, ["b", "missing", "a", "b"])
    assert [v["id"] for v in many] == ["b", "a"]
    bare = client.get_vectors(name, ["a"], include_values=False, include_metadata=False)
    assert bare == [{"id": "a"}]

    patched = client.update_metadata(name, "a", {"size": 5, "ok": None, "new": "x"})
    assert patched["metadata"] == {"color": "red", "size": 5, "new": "x"}

    assert client.count(name) == 3
    assert client.count(name, filter={"color": "red"}) == 1
    assert client.count(name, filter={"size": {"$gte": 2}}) == 2  # a (5) and b (2)

    hits = client.search(name, [0.9, 0.1, 0.0], k=2)
    assert [h["id"] for h in hits] == ["a", "b"]
    assert set(hits[0]) == {"id", "score"}
    full = client.search(name, [0.9, 0.1, 0.0], k=1, include_values=True, include_metadata=True, exact=True, ef=16)
    assert full[0]["values"] == [1.0, 0.0, 0.0] and full[0]["metadata"]["color"] == "red"
    assert [h["id"] for h in client.search(name, [0.9, 0.1, 0.0], filter={"color": "blue"})] == ["b"]
    assert [h["id"] for h in client.search(name, [0.9, 0.1, 0.0], score_threshold=0.5)] == ["a"]

    batch = client.search_batch(name, [{"vector": [1, 0, 0], "k": 1}, {"vector": [0, 0, 1], "k": 1, "include_metadata": True}])
    assert [[h["id"] for h in hits] for hits in batch] == [["a"], [odd_id]]
    assert batch[1][0]["metadata"] == {}

    page = client.scroll_page(name, limit=2)
    assert [v["id"] for v in page["vectors"]] == ["a", "b"] and page["next_cursor"]
    scrolled = list(client.scroll(name, page_size=1, include_values=True))
    assert [v["id"] for v in scrolled] == ["a", "b", odd_id]
    assert scrolled[0]["values"] == [1.0, 0.0, 0.0]
    assert [v["id"] for v in client.scroll(name, filter={"color": "blue"})] == ["b"]

    client.delete_vector(name, odd_id)
    with pytest.raises(NotFoundError):
        client.get_vector(name, odd_id)
    assert client.delete_vectors(name, ids=["a", "nope"]) == 1
    client.upsert(name, [("c", [1, 1, 0], {"color": "blue"}), ("d", [1, 1, 1], {"color": "green"})])
    assert client.delete_vectors(name, filter={"color": "blue"}) == 2
    assert [v["id"] for v in client.scroll(name)] == ["d"]
    assert client.delete_vectors(name, filter={}) == 1
    assert client.count(name) == 0
    with pytest.raises(ValueError):
        client.delete_vectors(name)
    client.delete_database(name)


def test_empty_upsert_sends_nothing(client: Client, unique: Callable[[str], str]) -> None:
    name = unique("empty")
    client.create_database(name, 2)
    assert client.upsert(name, []) == UpsertResult(upserted=0, requests=0)
    assert client.get_vectors(name, []) == []
    client.delete_database(name)


def test_api_keys(client: Client, server: Server) -> None:
    created = client.create_api_key("reader key", permissions=["database:read"], expires_in_days=7)
    assert created["key"].startswith("jvk_") and created["permissions"] == ["database:read"]
    assert created["id"] in [k["id"] for k in client.list_api_keys()]
    with Client(server.url, api_key=created["key"]) as keyed:
        assert keyed.me()["credential"] == f"api_key:{created['id']}"
        keyed.list_databases()
    client.revoke_api_key(created["id"])
    assert [k["revoked"] for k in client.list_api_keys() if k["id"] == created["id"]] == [True]
    with Client(server.url, api_key=created["key"]) as revoked:
        with pytest.raises(AuthenticationError):
            revoked.me()
    with pytest.raises(NotFoundError):
        client.revoke_api_key(created["id"])


def test_admin_users_roles_groups_acl(client: Client, server: Server, unique: Callable[[str], str]) -> None:
    username = unique("alice")
    user = client.create_user(username, "Alice-Passw0rd!", email=f"{username}@example.com", roles=["viewer"])
    uid = user["id"]
    assert user["roles"] == ["viewer"] and user["email"] == f"{username}@example.com"
    assert client.get_user(uid)["username"] == username
    assert uid in [u["id"] for u in client.list_users()]
    assert client.update_user(uid, email=None)["email"] is None
    assert client.update_user(uid, active=False)["active"] is False
    assert client.update_user(uid, active=True)["active"] is True

    client.assign_role(uid, "editor")
    assert client.get_user(uid)["roles"] == ["editor", "viewer"]
    client.remove_role(uid, "editor")
    assert client.get_user(uid)["roles"] == ["viewer"]

    role = client.create_role(unique("auditor"), description="reads one db", permissions=["metrics:read"])
    assert role["builtin"] is False and role["permissions"] == ["metrics:read"]
    db = unique("acl")
    client.create_database(db, 2)
    client.grant_permission(role["name"], "database:read", database=db)
    roles = {r["name"]: r for r in client.list_roles()}
    assert f"database:read@{db}" in roles[role["name"]]["permissions"]
    assert {"admin", "editor", "viewer"} <= set(roles)
    client.revoke_permission(role["name"], "database:read", database=db)
    assert f"database:read@{db}" not in {r["name"]: r for r in client.list_roles()}[role["name"]]["permissions"]

    group = client.create_group(unique("analysts"))
    assert group["members"] == []
    client.add_group_member(group["name"], uid)
    assert [g["members"] for g in client.list_groups() if g["name"] == group["name"]] == [[uid]]
    assert client.get_user(uid)["groups"] == [group["name"]]

    client.grant_access(db, f"group:{group['name']}", "database:write")
    client.grant_access(db, f"user:{uid}", "database:read")
    acl = client.get_acl(db)
    assert acl["database"] == db
    assert {"principal": f"group:{group['name']}", "permission": "database:write"} in acl["entries"]
    # The new user can now write through the group.
    with Client(server.url) as alice:
        alice.login(username, "Alice-Passw0rd!")
        assert alice.upsert(db, [("v", [1, 2])]).upserted == 1
    client.revoke_access(db, f"group:{group['name']}", "database:write")
    client.revoke_access(db, f"user:{uid}", "database:read")
    assert [e for e in client.get_acl(db)["entries"] if not e["principal"].startswith("user:1")] == []
    client.remove_group_member(group["name"], uid)
    assert client.get_user(uid)["groups"] == []

    client.delete_user(uid)
    with pytest.raises(NotFoundError):
        client.get_user(uid)
    client.delete_database(db)


def test_blocked_ips_and_audit_log(client: Client) -> None:
    blocked = client.block_ip("203.0.113.7", duration_seconds=60, reason="client test")
    assert blocked["ip"] == "203.0.113.7" and blocked["reason"] == "client test"
    assert "203.0.113.7" in [b["ip"] for b in client.list_blocked_ips()]
    client.unblock_ip("203.0.113.7")
    assert "203.0.113.7" not in [b["ip"] for b in client.list_blocked_ips()]
    events = client.audit_log(limit=5)
    assert 0 < len(events) <= 5
    logins = client.audit_log(type="login_success", since="2000-01-01T00:00:00Z")
    assert logins and all(e["type"] == "login_success" for e in logins)


def test_register_and_change_password(server: Server, unique: Callable[[str], str]) -> None:
    username = unique("bob")
    with Client(server.url) as anon:
        user = anon.register(username, "Bob-Passw0rd-1", email=f"{username}@example.com")
        assert user["username"] == username and user["roles"] == []
        anon.login(username, "Bob-Passw0rd-1")
        anon.change_password("Bob-Passw0rd-1", "Bob-Passw0rd-2")
        assert anon.me()["user"]["username"] == username  # this session stays valid
        assert anon.request_password_reset(username=username)["status"] == "accepted"
        assert anon.list_databases() == []
    with Client(server.url) as again:
        with pytest.raises(AuthenticationError):
            again.login(username, "Bob-Passw0rd-1")
        again.login(username, "Bob-Passw0rd-2")
        enrolment = again.enroll_totp()
        assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
