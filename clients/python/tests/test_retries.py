"""Retries: 429 waited out as Retry-After says, 503 read_only surfaced after the retries, the
backoff arithmetic, and connection errors retried only when that is safe."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Iterator, List

import httpx
import pytest

from jadevectordb import APIConnectionError, Client, RateLimitedError, RetryPolicy, ServerError, UnavailableError
from jadevectordb._retry import parse_retry_after

from conftest import RequestLog
from server import ADMIN_PASSWORD, Server

# --- policy arithmetic ---------------------------------------------------------------------


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    low = RetryPolicy(backoff_base=0.5, backoff_max=4, max_retry_wait=3, random=lambda: 0.0)
    high = RetryPolicy(backoff_base=0.5, backoff_max=4, max_retry_wait=3, random=lambda: 1.0)
    assert [low.delay(n, None) for n in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert [high.delay(n, None) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    # Retry-After is honoured (never shortened), with up to 10 % jitter, within the cap.
    assert low.delay(0, 2) == 2 and high.delay(0, 2) == pytest.approx(2.2)
    assert high.delay(0, 60) == 3


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3 and parse_retry_after(" 0 ") == 0 and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("soon") is None


def _mock_client(handler, **options) -> Client:  # type: ignore[no-untyped-def]
    return Client("http://jvdb.test", http_client=httpx.Client(transport=httpx.MockTransport(handler)),
                  backoff_base=0.001, **options)


def test_connection_errors_retried_only_when_safe() -> None:
    calls: List[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) < 3:
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(200, json={"count": 7})

    assert _mock_client(flaky).count("db") == 7  # POST count is idempotent
    assert len(calls) == 3

    calls.clear()
    with pytest.raises(APIConnectionError):  # creating is not: the first failure is raised
        _mock_client(flaky).create_group("g")
    assert calls == ["POST"]

    calls.clear()

    def refused(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(APIConnectionError) as info:  # never sent: retried even for a create
        _mock_client(refused, max_retries=2).create_group("g")
    assert len(calls) == 3 and info.value.status is None and info.value.code == "connection_error"


def test_503_then_success_and_non_json_errors() -> None:
    answers = [
        httpx.Response(503, json={"error": {"code": "unavailable", "message": "busy"}}, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"groups": []}),
    ]
    assert _mock_client(lambda request: answers.pop(0)).list_groups() == []
    plain = _mock_client(lambda request: httpx.Response(502, text="bad gateway"), max_retries=0)
    with pytest.raises(ServerError) as info:
        plain.list_groups()
    assert info.value.status == 502 and info.value.code == "http_502" and info.value.message == "bad gateway"


# --- a real 429 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_server() -> Iterator[Server]:
    srv = Server(
        {
            "JADEVECTORDB_RATE_LIMITS_API_LIMIT": "2",
            "JADEVECTORDB_RATE_LIMITS_API_BURST": "2",
            "JADEVECTORDB_RATE_LIMITS_API_PERIOD_SECONDS": "2",
        }
    )
    yield srv
    srv.stop()


def test_rate_limit_is_waited_out(limited_server: Server, request_log: RequestLog) -> None:
    with httpx.Client(event_hooks=request_log.hooks()) as http:
        client = Client(limited_server.url, http_client=http, max_retries=5, max_retry_wait=5)
        client.login("admin", ADMIN_PASSWORD)
        durations = []
        for _ in range(4):  # 2 in the burst, then one per second
            started = time.monotonic()
            assert client.me()["user"]["username"] == "admin"
            durations.append(time.monotonic() - started)
        limited = [r for r in request_log.responses if r.status_code == 429]
        assert limited, "the server never answered 429"
        retry_after = max(float(r.headers["retry-after"]) for r in limited)
        assert retry_after >= 1
        assert max(durations) >= retry_after  # the call that met the 429 waited it out

    with Client(limited_server.url, max_retries=0) as impatient:
        impatient.login("admin", ADMIN_PASSWORD)
        with pytest.raises(RateLimitedError) as info:
            for _ in range(5):
                impatient.me()
        assert (info.value.status, info.value.code) == (429, "rate_limited")
        assert info.value.retry_after is not None and info.value.retry_after >= 1


# --- a real 503 read_only -------------------------------------------------------------------


def _launcher() -> List[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    if not os.access(setpriv, os.X_OK):
        pytest.skip("running as root and setpriv is unavailable: the file mode would not apply to the server")
    dropped = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={dropped}", f"--bounding-set={dropped}", "--"]


def test_read_only_database_is_unavailable_read_only(request_log: RequestLog) -> None:
    srv = Server(launcher=_launcher())
    database = Path(srv.data_dir) / "jadevectordb.sqlite"
    try:
        with Client(srv.url) as setup:  # closed before the reload: open connections delay the old workers' exit
            token = setup.login("admin", ADMIN_PASSWORD)["token"]
            setup.create_group("before")
        os.chmod(database, 0o444)
        old_workers = set(srv.worker_pids())
        srv.signal(signal.SIGHUP)
        # Wait (bounded) until the old workers are gone and writes answer 503 read_only.
        deadline = time.monotonic() + 20
        while old_workers & set(srv.worker_pids()):
            assert time.monotonic() < deadline, "old workers still running:\n" + srv.log_tail()
            time.sleep(0.05)
        raw = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        streak = probes = 0
        while streak < 4:
            assert time.monotonic() < deadline, srv.log_tail()
            probes += 1
            body = b'{"name":"probe%d"}' % probes  # a new name each time: an old one is a 409
            answer = httpx.post(srv.url + "/v1/admin/groups", headers=raw, content=body, timeout=5)
            read_only = answer.status_code == 503 and answer.json()["error"]["code"] == "read_only"
            streak = streak + 1 if read_only else 0
            if streak == 0:
                time.sleep(0.1)

        with httpx.Client(event_hooks=request_log.hooks()) as http:
            client = Client(srv.url, token=token, http_client=http, max_retries=2, max_retry_wait=0.2)
            with pytest.raises(UnavailableError) as info:
                client.create_group("during")
            err = info.value
            assert (err.status, err.code) == (503, "read_only")
            assert err.retry_after is not None
            assert len(request_log.requests) == 3  # the first attempt and two retries
            assert "before" in [g["name"] for g in client.list_groups()]  # reads still work
    finally:
        os.chmod(database, 0o644)
        srv.stop()
