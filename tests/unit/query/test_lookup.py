"""Bulk lookup (query/lookup.py): codes sorted out as the single route checks them, each
role's profiles as the single route shows them, the file format of ``zjcredit query
--file``, and the route in process over a stand-in database (one ``= any($1)`` read)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from query.app import create_app
from query.client import LOOKUP_MAX as CLIENT_MAX
from query.db import Database
from query.lookup import LOOKUP_MAX, codes_from_text, lookup_view, split_codes
from query.models import LookupResult
from query.render import lookup_lines
from query.roles import Role, profile_view
from readmodel.rows import to_json
from schemas.sectors import load_catalog
from tests.outputs import oracle
from tests.province import AS_OF, province

_BANK = "zjc_00000001_bank"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    events = province(Path(tmp_path_factory.mktemp("p")), 30, seed=5)
    profiles, _ = oracle(list(itertools.chain(*events.values())), AS_OF)
    return {u: to_json(p) for u, p in profiles.items()}


class _Stored(Database):
    """Answers the lookup's one read (and the single route's) from a dict; counts the
    lookup's reads."""

    def __init__(self, profiles: dict[str, str]) -> None:
        super().__init__("postgresql://unused", check_schema=False)
        self.profiles = profiles
        self.reads: list[list[str]] = []

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        yield self

    async def fetchval(self, sql: str, *args: Any) -> Any:
        assert sql.startswith("select profile::text from credit.enterprise"), sql
        return self.profiles.get(args[0])

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        assert "where uscc = any($1::text[])" in sql, sql
        self.reads.append(args[0])
        return [{"uscc": c, "profile": self.profiles[c]} for c in args[0] if c in self.profiles]


def test_codes_are_checked_as_the_single_route_checks_them() -> None:
    codes, malformed = split_codes([
        " 91330100716105852f", "91330100716105852F", "91330100716105852G", "9133010071610585",
        "", "x" * 100,
    ])  # fmt: skip
    assert codes == ["91330100716105852F"]  # normalised, asked once
    assert [(m["uscc"], m["rule"]) for m in malformed[:3]] == [
        ("91330100716105852G", "check_char"), ("9133010071610585", "length"), ("", "empty"),
    ]  # fmt: skip
    assert "position 18" in malformed[0]["message"]
    assert malformed[3]["rule"] == "length"
    assert len(malformed[3]["uscc"]) < 100  # a long text is not echoed whole


def test_each_role_sees_the_profiles_as_the_single_route_shows_them(
    stored: dict[str, str],
) -> None:
    catalog = load_catalog()
    found = {c: orjson.loads(p) for c, p in stored.items()}
    asked = [*sorted(found, reverse=True)[:5], "91330100716105852F"]
    for role in Role:
        view = lookup_view(asked, [], found, role, catalog)
        assert view["profiles"] == [profile_view(found[c], role, catalog) for c in asked[:5]]
        assert view["not_found"] == ["91330100716105852F"]
        assert view["role"] == role.value
        LookupResult.model_validate(view)


def test_a_codes_file_may_have_a_bom_blanks_and_comments() -> None:
    text = "\ufeff# 宁波银行 post-loan list\r\n\n 91330100716105852F \n91330100716105852G # typo\n  #\n"
    assert codes_from_text(text) == ["91330100716105852F", "91330100716105852G"]
    assert codes_from_text("") == []
    assert CLIENT_MAX == LOOKUP_MAX


def test_a_lookup_prints_profiles_then_what_was_not_found(stored: dict[str, str]) -> None:
    catalog = load_catalog()
    code = sorted(stored)[0]
    codes, malformed = split_codes([code, "91330100716105852F", "91330100716105852G"])
    view = lookup_view(codes, malformed, {code: orjson.loads(stored[code])}, Role.PUBLIC,
                       catalog)  # fmt: skip
    text = "\n".join(lookup_lines(view))
    assert code in text
    assert "查到 found 1 of 3 · 未找到 not found 1 · 格式错误 malformed 1" in text
    assert "  91330100716105852F" in text
    assert "check_char" in text


async def test_the_route_reads_once_and_refuses_more_than_the_limit(
    stored: dict[str, str],
) -> None:
    db = _Stored(stored)
    app = create_app(db, registry=CollectorRegistry())
    app.state.services.keys.put(_BANK, Role.BANK)
    codes = sorted(stored)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ask = [codes[3].lower(), "91330100716105852F", codes[1], "91330000I27215176K", codes[3]]
        got = await c.post("/v1/enterprises/lookup", json={"codes": ask},
                           headers={"X-API-Key": _BANK})  # fmt: skip
        assert got.status_code == 200, got.text
        body = got.json()
        assert [p["uscc"] for p in body["profiles"]] == [codes[3], codes[1]]
        assert {p["role"] for p in body["profiles"]} == {"bank"}
        single = await c.get(f"/v1/enterprises/{codes[3]}", headers={"X-API-Key": _BANK})
        assert body["profiles"][0] == single.json()
        assert body["not_found"] == ["91330100716105852F"]
        assert body["malformed"][0]["rule"] == "charset"
        assert db.reads == [[codes[3], "91330100716105852F", codes[1]]]

        too_many = await c.post("/v1/enterprises/lookup", json={"codes": codes[:1] * 1001})
        assert too_many.status_code == 422
        assert too_many.json()["details"][0] == {
            "field": "codes", "rule": "max_items", "message": too_many.json()["details"][0]["message"],
        }  # fmt: skip
        assert "at most 1000" in too_many.json()["message"]
        for bad in ({"codes": "91330100716105852F"}, {"codes": [1]}, {}, [], None):
            answer = await c.post("/v1/enterprises/lookup", json=bad)
            assert answer.status_code == 422, (bad, answer.text)
            assert answer.json()["error"] == "invalid_parameter"
        empty = await c.post("/v1/enterprises/lookup", json={"codes": []})
        assert empty.json() == {"profiles": [], "not_found": [], "malformed": [], "role": "public"}
        assert len(db.reads) == 1
        spec = (await c.get("/openapi.json")).json()
    assert "post" in spec["paths"]["/v1/enterprises/lookup"]
