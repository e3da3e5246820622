"""The profile's fast path (query/fastpath.py) answers as the FastAPI route does.

In process (httpx's ASGI transport) over a stand-in database that serves stored profiles
of a small folded province: the same app is asked with and without the fast path, for
each role, a malformed and an unknown code, and each kind of bad key. The bodies are
also the ``Profile`` model's own JSON (the fast path skips pydantic's validation).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from query.app import create_app
from query.db import Database
from query.fastpath import FastPath, search_arguments
from query.models import Profile
from query.roles import Role, profile_view
from readmodel.rows import to_json
from schemas.sectors import load_catalog
from tests.outputs import oracle
from tests.province import AS_OF, province

_BANK, _GONE = "zjc_00000001_bank", "zjc_00000002_revoked"


class _Stored(Database):
    """Answers the profile lookup from a dict, and a search with every firm (filters are
    the database's business, not the paths'); anything else is a bug in the test."""

    def __init__(self, profiles: dict[str, str]) -> None:
        super().__init__("postgresql://unused", check_schema=False)
        self.profiles = profiles
        self.rows = []
        for code in sorted(profiles):
            p = orjson.loads(profiles[code])
            self.rows.append({
                "uscc": code, "name": p["name"], "status": p["status"],
                "city_code": p["city_code"], "score": p["score"], "grade": p["grade"],
                "tax_grade": p["tax_grade"], "listed_sectors": [x["sector"] for x in p["blacklist"]],
                "zjtx_level": (p.get("zjtx") or {}).get("level"),
            })  # fmt: skip

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if sql.startswith("select version from credit.enterprise"):
            found = self.profiles.get(args[0])
            return orjson.loads(found)["version"] if found is not None else None
        assert sql.startswith("select profile::text from credit.enterprise"), sql
        return self.profiles.get(args[0])

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        yield self

    async def prepare(self, sql: str) -> Any:
        return types.SimpleNamespace(fetch=functools.partial(self.fetch, sql))

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        assert "from credit.enterprise" in sql, sql
        if sql.startswith("select count(*)"):
            return [(len(self.rows),)]
        limit, offset = args[-2:]
        if "as matched" in sql:
            return [{**r, "matched": len(self.rows)} for r in self.rows[offset : offset + limit]]
        return self.rows[offset : offset + limit]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    events = province(Path(tmp_path_factory.mktemp("p")), 40, seed=5)
    profiles, _ = oracle(list(itertools.chain(*events.values())), AS_OF)
    return {u: to_json(p) for u, p in profiles.items()}


def _client(stored: dict[str, str], *, fast: bool) -> httpx.AsyncClient:
    app = create_app(_Stored(stored), registry=CollectorRegistry())
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls != FastPath]  # type: ignore[comparison-overlap]
    keys = app.state.services.keys
    keys.put(_BANK, Role.BANK)
    keys.put(_GONE, None)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def test_each_roles_view_is_the_profile_models_json(stored: dict[str, str]) -> None:
    catalog = load_catalog()
    for text, role in itertools.product(stored.values(), Role):
        view = profile_view(orjson.loads(text), role, catalog)
        model = Profile.model_validate(view).model_dump_json(by_alias=True)
        assert orjson.loads(orjson.dumps(view)) == orjson.loads(model)


async def test_the_fast_path_answers_as_the_fastapi_route(stored: dict[str, str]) -> None:
    code = sorted(stored)[0]
    asks: list[tuple[str, dict[str, str]]] = [
        (f"/v1/enterprises/{code}", {}),
        (f"/v1/enterprises/{code.lower()}?page=2", {}),
        (f"/v1/enterprises/{code}", {"X-API-Key": _BANK}),
        (f"/v1/enterprises/{code}", {"Authorization": f"Bearer {_BANK}"}),
        (f"/v1/enterprises/{code}", {"X-API-Key": _BANK, "Authorization": "Basic eDp5"}),
        (f"/v1/enterprises/{code}", {"X-API-Key": "", "Authorization": f"bearer  {_BANK}"}),
        (f"/v1/enterprises/{code}", {"X-API-Key": _GONE}),
        (f"/v1/enterprises/{code}", {"Authorization": "Basic eDp5"}),
        (f"/v1/enterprises/{code}", {"Authorization": "Bearer"}),
        ("/v1/enterprises/91330100716105852G", {}),
        ("/v1/enterprises/%E6%9D%AD%E5%B7%9E", {}),
        ("/v1/enterprises/91330100716105852G", {"X-API-Key": _GONE}),
        (f"/v1/enterprises/{code[:-1]}{'0' if code[-1] != '0' else '1'}", {}),
        ("/v1/enterprises/91330100716105852F", {}),
        (f"/v1/enterprises/{code}/", {}),
    ]
    async with _client(stored, fast=True) as fast, _client(stored, fast=False) as slow:
        for path, headers in asks:
            got, want = await fast.get(path, headers=headers), await slow.get(path, headers=headers)
            assert (got.status_code, got.content) == (want.status_code, want.content), path
            for name in ("content-type", "content-length", "www-authenticate", "retry-after",
                         "etag", "cache-control", "vary", "content-security-policy"):  # fmt: skip
                assert got.headers.get(name) == want.headers.get(name), (path, name)
        statuses = {(await fast.get(p, headers=h)).status_code for p, h in asks}
        assert statuses >= {200, 401, 404, 422}
        metrics = (await fast.get("/metrics")).text
    assert 'route="/v1/enterprises/{uscc}",status="200"' in metrics
    assert 'route="/v1/enterprises/{uscc}",status="422"' in metrics


async def test_plain_searches_are_answered_as_the_fastapi_route(stored: dict[str, str]) -> None:
    asks = [
        "/v1/enterprises", "/v1/enterprises?q=%E6%9D%AD%E5%B7%9E%E5%B8%82&page=2&size=7", "/v1/enterprises?size=100",
        "/v1/enterprises?q=a&q=b&grade=GOOD", "/v1/enterprises?city=330100&sector=food_drug",
        "/v1/enterprises?city=nowhere", "/v1/enterprises?sector=x", "/v1/enterprises?q=%20",
        "/v1/enterprises?q=" + "x" * 50, "/v1/enterprises?page=10000&size=1", "/v1/enterprises?q=a%00",
        # refused by FastAPI's own checks, so passed on to it
        "/v1/enterprises?q=", "/v1/enterprises?q=" + "x" * 51, "/v1/enterprises?grade=good",
        "/v1/enterprises?page=0", "/v1/enterprises?size=101", "/v1/enterprises?page=01",
        "/v1/enterprises?size=+3", "/v1/enterprises?page=1e3", "/v1/enterprises?page=10001",
    ]  # fmt: skip
    async with _client(stored, fast=True) as fast, _client(stored, fast=False) as slow:
        for path in asks:
            for headers in ({}, {"X-API-Key": _GONE}, {"X-API-Key": _BANK}):
                got = await fast.get(path, headers=headers)
                want = await slow.get(path, headers=headers)
                assert (got.status_code, got.content) == (want.status_code, want.content), path
                assert got.headers.get("content-type") == want.headers.get("content-type")
        page = (await fast.get("/v1/enterprises?size=3&page=2")).json()
        metrics = (await fast.get("/metrics")).text
    assert [i["uscc"] for i in page["items"]] == sorted(stored)[3:6]
    assert page["total"] == len(stored)
    assert 'route="/v1/enterprises",status="200"' in metrics


async def test_a_profile_has_an_etag_and_if_none_match_answers_304(
    stored: dict[str, str],
) -> None:
    code = sorted(stored)[0]
    version = orjson.loads(stored[code])["version"]
    path = f"/v1/enterprises/{code}"
    async with _client(stored, fast=True) as fast, _client(stored, fast=False) as slow:
        for client in (fast, slow):
            first = await client.get(path)
            etag = first.headers["etag"]
            assert etag == f'"{code}.{version}.public"'
            assert first.headers["cache-control"] == "private, no-cache"
            assert first.headers["vary"] == "X-API-Key, Authorization"
            for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
                again = await client.get(path, headers={"If-None-Match": sent})
                assert (again.status_code, again.content) == (304, b""), sent
                assert again.headers["etag"] == etag
                assert "content-type" not in again.headers
            # Another role sees another body, so its ETag is another.
            bank = await client.get(path, headers={"X-API-Key": _BANK, "If-None-Match": etag})
            assert bank.status_code == 200
            assert bank.headers["etag"] == f'"{code}.{version}.bank"'
            stale = await client.get(path, headers={"If-None-Match": f'"{code}.0.public"'})
            assert (stale.status_code, stale.content) == (200, first.content)
            gone = await client.get("/v1/enterprises/91330100716105852F",
                                    headers={"If-None-Match": "*"})  # fmt: skip
            assert gone.status_code == 404
            assert gone.headers["cache-control"] == "no-store"
            assert "etag" not in gone.headers
        metrics = (await fast.get("/metrics")).text
    assert 'route="/v1/enterprises/{uscc}",status="304"' in metrics


def test_only_plainly_valid_search_parameters_take_the_fast_path() -> None:
    assert search_arguments(b"q=%E6%9D%AD%E5%B7%9E&page=3") == {
        "q": "杭州", "city": None, "grade": None, "sector": None, "page": 3, "size": 20,
    }  # fmt: skip
    assert search_arguments(b"size=5&size=100&other=1")["size"] == 100  # type: ignore[index]
    for refused in (b"q=", b"format=csv", b"grade=good", b"page=0", b"page=01", b"size=101", b"page=-1",
                    b"size=%203", b"page=10001", b"q=" + b"x" * 51):  # fmt: skip
        assert search_arguments(refused) is None, refused
