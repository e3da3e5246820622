"""The profile's fast path (query/fastpath.py) answers as the FastAPI route does.

In process (httpx's ASGI transport) over a stand-in database that serves stored profiles
of a small folded province: the same app is asked with and without the fast path, for
each role, a malformed and an unknown code, and each kind of bad key. The bodies are
also the ``Profile`` model's own JSON (the fast path skips pydantic's validation).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from query.app import create_app
from query.db import Database
from query.fastpath import ProfileFastPath
from query.models import Profile
from query.roles import Role, profile_view
from schemas.sectors import load_catalog
from sink.rows import to_json
from tests.outputs import oracle
from tests.province import AS_OF, province

_BANK, _GONE = "zjc_00000001_bank", "zjc_00000002_revoked"


class _Stored(Database):
    """Answers the profile lookup from a dict; anything else is a bug in the test."""

    def __init__(self, profiles: dict[str, str]) -> None:
        super().__init__("postgresql://unused", apply_migrations=False)
        self.profiles = profiles

    async def fetchval(self, sql: str, *args: Any) -> Any:
        assert sql.startswith("select profile::text from credit.enterprise"), sql
        return self.profiles.get(args[0])


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    events = province(Path(tmp_path_factory.mktemp("p")), 40, seed=5)
    profiles, _ = oracle(list(itertools.chain(*events.values())), AS_OF)
    return {u: to_json(p) for u, p in profiles.items()}


def _client(stored: dict[str, str], *, fast: bool) -> httpx.AsyncClient:
    app = create_app(_Stored(stored), registry=CollectorRegistry())
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls != ProfileFastPath]  # type: ignore[comparison-overlap]
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
            for name in ("content-type", "content-length", "www-authenticate", "retry-after"):
                assert got.headers.get(name) == want.headers.get(name), (path, name)
        statuses = {(await fast.get(p, headers=h)).status_code for p, h in asks}
        assert statuses >= {200, 401, 404, 422}
        metrics = (await fast.get("/metrics")).text
    assert 'route="/v1/enterprises/{uscc}",status="200"' in metrics
    assert 'route="/v1/enterprises/{uscc}",status="422"' in metrics
