"""Server errors map to the right exception with the server's code; 4xx are never retried."""

from __future__ import annotations

from typing import Callable, Iterator

import httpx
import pytest

from jadevectordb import (
    AuthenticationError,
    Client,
    ConflictError,
    JadeVectorDBError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ValidationError,
)

from conftest import RequestLog
from server import ADMIN_PASSWORD, Server


@pytest.fixture()
def counted(server: Server, request_log: RequestLog) -> Iterator[Client]:
    """An admin client with a generous retry budget whose requests are logged."""
    with httpx.Client(event_hooks=request_log.hooks()) as http:
        client = Client(server.url, http_client=http, max_retries=5, backoff_base=0.01)
        client.login("admin", ADMIN_PASSWORD)
        request_log.clear()
        yield client


def test_not_found(counted: Client, request_log: RequestLog, unique: Callable[[str], str]) -> None:
    with pytest.raises(NotFoundError) as info:
        counted.get_database(unique("nope"))
    err = info.value
    assert (err.status, err.code) == (404, "not_found") and err.message
    assert err.request_id and err.retry_after is None
    assert isinstance(err, JadeVectorDBError)
    assert len(request_log.requests) == 1  # no retry


def test_validation_errors_are_not_retried(counted: Client, request_log: RequestLog, unique: Callable[[str], str]) -> None:
    name = unique("errs")
    counted.create_database(name, 3)
    request_log.clear()
    with pytest.raises(ValidationError) as info:
        counted.upsert(name, [("a", [1.0, 2.0])])
    assert (info.value.status, info.value.code) == (400, "dimension_mismatch")
    assert len(request_log.requests) == 1
    with pytest.raises(ValidationError) as info:
        counted.search(name, [1.0, 0.0, 0.0], k=5000)
    assert info.value.code == "invalid_request"
    with pytest.raises(ValidationError) as info:
        counted.count(name, filter={"a": {"$bogus": 1}})
    assert info.value.code == "invalid_request"
    with pytest.raises(ValidationError):
        counted.scroll_page(name, cursor="not-a-cursor")
    with pytest.raises(ValidationError):
        counted.create_database(unique("bad"), 0)
    assert len(request_log.requests) == 5
    counted.delete_database(name)


def test_conflict(counted: Client, unique: Callable[[str], str]) -> None:
    name = unique("dup")
    counted.create_database(name, 2)
    with pytest.raises(ConflictError) as info:
        counted.create_database(name, 2)
    assert (info.value.status, info.value.code) == (409, "conflict")
    counted.delete_database(name)


def test_weak_password_is_a_validation_error(counted: Client, unique: Callable[[str], str]) -> None:
    with pytest.raises(ValidationError) as info:
        counted.create_user(unique("weak"), "short")
    assert (info.value.status, info.value.code) in {(422, "weak_password"), (400, "invalid_request")}


def test_payload_too_large(server: Server, request_log: RequestLog, unique: Callable[[str], str]) -> None:
    # Claim a bigger limit than the server's so that the server answers 413.
    with httpx.Client(event_hooks=request_log.hooks()) as http:
        client = Client(server.url, http_client=http, max_request_bytes=4 * 1_048_576)
        client.login("admin", ADMIN_PASSWORD)
        name = unique("huge")
        client.create_database(name, 512)
        request_log.clear()
        with pytest.raises(PayloadTooLargeError) as info:
            client.upsert(name, ((f"v{i}", [0.123456789] * 512) for i in range(300)))
        assert (info.value.status, info.value.code) == (413, "payload_too_large")
        assert len(request_log.requests) == 1
        client.delete_database(name)


def test_authentication_and_permission_errors(server: Server, counted: Client, request_log: RequestLog, unique: Callable[[str], str]) -> None:
    with Client(server.url, max_retries=5) as anon:
        with pytest.raises(AuthenticationError) as info:
            anon.list_databases()
        assert (info.value.status, info.value.code) == (401, "unauthenticated")
        with pytest.raises(AuthenticationError):
            anon.login(unique("ghost"), "Wrong-Passw0rd!")
    with Client(server.url, api_key="jvk_" + "x" * 43) as bad_key:
        with pytest.raises(AuthenticationError):
            bad_key.me()

    username = unique("norole")
    counted.create_user(username, "NoRole-Passw0rd!")
    with httpx.Client(event_hooks=request_log.hooks()) as http:
        user = Client(server.url, http_client=http, max_retries=5)
        user.login(username, "NoRole-Passw0rd!")
        request_log.clear()
        with pytest.raises(PermissionDeniedError) as denied:
            user.create_database(unique("forbidden"), 3)
        assert (denied.value.status, denied.value.code) == (403, "forbidden")
        with pytest.raises(PermissionDeniedError):
            user.list_users()
        assert len(request_log.requests) == 2
