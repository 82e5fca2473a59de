"""Fixtures: one real server shared by most tests, and logged-in clients for it."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator, List

import httpx
import pytest

from jadevectordb import Client

from server import ADMIN_PASSWORD, Server

_names = itertools.count(1)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    try:
        srv = Server()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def admin_password() -> str:
    return ADMIN_PASSWORD


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, timeout=30) as c:
        c.login("admin", ADMIN_PASSWORD)
        yield c


@pytest.fixture()
def unique() -> Callable[[str], str]:
    """Fresh names, so tests sharing the server never collide."""
    return lambda prefix: f"{prefix}_{next(_names)}"


class RequestLog:
    """Records every request and answer an httpx client makes (via event hooks)."""

    def __init__(self) -> None:
        self.requests: List[httpx.Request] = []
        self.responses: List[httpx.Response] = []

    def on_request(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def on_response(self, response: httpx.Response) -> None:
        self.responses.append(response)

    async def aon_request(self, request: httpx.Request) -> None:
        self.on_request(request)

    async def aon_response(self, response: httpx.Response) -> None:
        self.on_response(response)

    def hooks(self) -> Any:
        return {"request": [self.on_request], "response": [self.on_response]}

    def async_hooks(self) -> Any:
        return {"request": [self.aon_request], "response": [self.aon_response]}

    def clear(self) -> None:
        self.requests.clear()
        self.responses.clear()


@pytest.fixture()
def request_log() -> RequestLog:
    return RequestLog()


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"
