"""query/limits.py: token buckets per key and per address, and the 429 they answer.

The buckets on a clock of the test's own; the middleware in the app (httpx's ASGI
transport, one client address) over a database that is down, since a limited request
never reaches it and the others answer 503.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

import query.limits
from query.app import create_app
from query.db import Database
from query.errors import DatabaseUnavailable
from query.headers import CSP
from query.limits import Buckets
from query.roles import Role

_BANK, _GONE = "zjc_00000001_bank", "zjc_00000002_revoked"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_holds_a_sixth_of_a_minute_and_refills_steadily() -> None:
    clock = _Clock()
    buckets = Buckets(60, clock)  # 1 a second, 10 at once
    assert [buckets.take("a") for _ in range(10)] == [0.0] * 10
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # another name, another bucket
    clock.now += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    clock.now += 1000
    assert [buckets.take("a") for _ in range(11)][-2:] == [0.0, pytest.approx(1.0)]
    assert Buckets(3, clock).capacity == 1.0  # at least one request


def test_the_buckets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(query.limits, "MAX_BUCKETS", 3)
    buckets = Buckets(6, _Clock())  # one request per bucket
    for name in "abcd":
        assert buckets.take(name) == 0.0
    assert buckets.take("a") == 0.0  # dropped as least recently used: full again
    assert buckets.take("d") > 0


class _Down(Database):
    def __init__(self) -> None:
        super().__init__("postgresql://unused", check_schema=False)

    async def pool(self) -> Any:
        raise DatabaseUnavailable("PostgreSQL is unavailable (test)")


def _client(**limits: int) -> httpx.AsyncClient:
    app = create_app(_Down(), registry=CollectorRegistry(), **limits)
    app.state.services.keys.put(_BANK, Role.BANK)
    app.state.services.keys.put(_GONE, None)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_an_address_over_its_limit_gets_429_with_retry_after() -> None:
    path = "/v1/enterprises/91330100716105852F"
    async with _client(rate_per_address=30, rate_per_key=60) as client:
        first = [(await client.get(path)).status_code for _ in range(5)]  # a bucket of 5
        over = await client.get(path)
        revoked = await client.get(path, headers={"X-API-Key": _GONE})
        bank = [(await client.get(path, headers={"X-API-Key": _BANK})).status_code
                for _ in range(11)]  # fmt: skip
        unlimited = [(await client.get(p)).status_code for p in ("/healthz", "/subjects")]
        metrics = (await client.get("/metrics")).text
    assert first == [503] * 5
    assert over.status_code == 429
    body = over.json()
    assert (body["error"], body["error_code"]) == ("too_many_requests", 42900)
    assert over.headers["retry-after"] == "2"  # half a request a second
    assert over.headers["content-security-policy"] == CSP
    assert over.headers["cache-control"] == "no-store"
    assert revoked.status_code == 429  # a key that is not valid counts as its address
    assert bank == [503] * 10 + [429]  # a valid key has its own bucket (60: 10 at once)
    assert unlimited == [503, 200]
    assert 'route="/v1/enterprises/{uscc}",status="429"' in metrics


async def test_no_limits_by_default() -> None:
    async with _client() as client:
        statuses = {(await client.get("/v1/stats")).status_code for _ in range(200)}
    assert statuses == {503}
