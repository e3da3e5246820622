"""Bounded public queries, over HTTP on a real read model of 100,000 firms.

The read model is the query bench's synthetic one (benchmarks/query_load.py: the pure
fold's profiles of a generated province, copied under new codes and names), analysed, with
``enable_seqscan`` left on. Then:

- the search's statements, for texts of every kind, never read a quarter of the
  enterprise table (EXPLAIN ANALYZE of the very statements query/reads.py sends,
  planned for their values and generically, as the pool's cached statements may be),
  and give the pages a plain SQL query gives; the texts without a trigram are 422 with
  what works instead, the exports' too;
- pages deeper than the stated 10,000 items are 422 on every paged route, the last
  allowed page is served; an export of more rows than ``ZJCREDIT_EXPORT_ROWS`` is 422
  before any row, one of exactly that many is whole;
- no public answer (profile, bulk lookup, search by code and by name, its CSV and JSON
  Lines exports) carries the score, the factors built from tax amounts, the tax
  bureau's scores or the amounts; a bank's key sees them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from base.endpoints import Endpoints
from benchmarks.query_load import load_enterprises, make_templates
from query import reads
from query.db import Database, migrate_all
from query.keys import create_key
from query.reads import SEARCH_COUNT_CAP, SORTED_MATCHES, WALK_ROWS
from query.roles import PUBLIC_HIDDEN, Role
from tests.queryservice import QueryService
from tests.readmodel import create_database, drop_database, fetch

FIRMS = 100_000
EXPORT_ROWS = 5_000  # the service's ZJCREDIT_EXPORT_ROWS here


@dataclass
class Served:
    url: str
    database_url: str
    keys: dict[str, str]
    names: list[str]  # in code order
    codes: list[str]
    cities: list[str]

    def get(self, path: str, role: str = "public", **params: Any) -> httpx.Response:
        headers = {"X-API-Key": self.keys[role]} if role != "public" else {}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def served(stack: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    name = f"bounds_{uuid.uuid4().hex[:8]}"
    url = create_database(stack.database_url, name)
    service = None
    try:
        asyncio.run(load_enterprises(url, make_templates(60), FIRMS, progress=False))
        keys = {role.value: _new_key(url, role) for role in (Role.BANK, Role.ADMIN)}
        service = QueryService(url, "zjcredit", tmp_path_factory.mktemp("bounds") / "serve.log",
                               env={"ZJCREDIT_EXPORT_ROWS": str(EXPORT_ROWS)})  # fmt: skip
        rows = fetch(url, "select uscc, name, city_code from credit.enterprise order by uscc")
        yield Served(service.url, url, keys, [r[1] for r in rows], [r[0] for r in rows],
                     [r[2] for r in rows])  # fmt: skip
    finally:
        if service is not None:
            assert service.stop() == 0, service.logs()
        drop_database(stack.database_url, name)


def _new_key(database_url: str, role: Role) -> str:
    async def make() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            await migrate_all(conn, read_model=False)
            return str((await create_key(conn, f"测试 {role.value}", role))[1])
        finally:
            await conn.close()

    return asyncio.run(make())


def _error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["error"]) == (status, error), body
    return body


# --- searches that cannot scan the table ----------------------------------------------------


class _Recording:
    """A :class:`Database` whose connections note every statement (and its arguments)
    that query/reads.py sends, to EXPLAIN them afterwards."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        async with self.db.connection() as conn:
            yield _NotingConnection(conn, self.sent)


class _NotingConnection:
    def __init__(self, conn: Any, sent: list[tuple[str, tuple[Any, ...]]]) -> None:
        self.conn, self.sent = conn, sent

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.sent.append((sql, args))
        return list(await self.conn.fetch(sql, *args))

    async def prepare(self, sql: str) -> Any:
        conn, sent = self.conn, self.sent

        class Noted:
            async def fetch(self, *args: Any) -> list[Any]:
                sent.append((sql, args))
                return list(await (await conn.prepare(sql)).fetch(*args))

        return Noted()


def _scans(plan: dict[str, Any]) -> Iterator[tuple[str, str | None, int]]:
    """Each node of an EXPLAIN ANALYZE plan: its type, relation, and rows it read."""
    read = int(plan.get("Actual Rows", 0)) + int(plan.get("Rows Removed by Filter", 0))
    yield plan["Node Type"], plan.get("Relation Name"), read
    for child in plan.get("Plans", []):
        yield from _scans(child)


def _texts(served: Served) -> list[str]:
    """Texts of every kind: the commonest run of three (有限公 of 有限公司); runs with more
    matches than the count's cap whose page is among the first codes, and whose are not
    (a name's words go with its code: a city's firms share a code prefix); rare runs,
    one of a single firm; with punctuation and Latin letters around them."""
    names = served.names
    grams: dict[str, list[int]] = {}
    for at, n in enumerate(names):
        for g in {n[i : i + 3] for i in range(len(n) - 2)}:
            grams.setdefault(g, []).append(at)
    ranked = sorted(grams, key=lambda g: (-len(grams[g]), g))
    common = [g for g in ranked if SEARCH_COUNT_CAP < len(grams[g]) <= SORTED_MATCHES]
    early = [g for g in common if grams[g][19] < WALK_ROWS]
    late = [g for g in common if grams[g][19] >= WALK_ROWS]
    assert early
    assert late
    return [ranked[0], *early[:2], *late[:3], ranked[len(ranked) // 2], ranked[-1],
            names[7][-4:], f"（{ranked[5]}）", "abc", "x 有限公司"]  # fmt: skip


_PLANS = ("force_custom_plan", "force_generic_plan")


async def _explain(conn: Any, sql: str, args: tuple[Any, ...], mode: str) -> dict[str, Any]:
    """EXPLAIN ANALYZE of ``sql`` run with ``args`` as a prepared statement under
    ``plan_cache_mode`` ``mode``: the service's pool caches statements, and from the 6th
    run of one PostgreSQL may plan it once for any value (a generic plan). (A plain
    EXPLAIN plans for the values given, whatever the mode.)"""
    await conn.execute(f"set plan_cache_mode = {mode}")
    await conn.execute(f"prepare probe as {sql}")
    try:
        values = ", ".join(str(a) if isinstance(a, int) else "'" + a.replace("'", "''") + "'"
                           for a in args)  # fmt: skip
        text = await conn.fetchval(f"explain (analyze, format json) execute probe({values})")
    finally:
        await conn.execute("deallocate probe")
    plan: dict[str, Any] = orjson.loads(text)[0]["Plan"]
    return plan


def test_searches_read_a_bounded_part_of_the_table_and_page_right(served: Served) -> None:
    texts = _texts(served)
    pages = ((20, 0), (20, 980), (7, 21))

    async def check() -> list[tuple[str, list[tuple[str, str | None, int]]]]:
        db = Database(served.database_url, check_schema=False, statement_timeout=60)
        conn = await asyncpg.connect(served.database_url)
        try:
            assert await conn.fetchval("show enable_seqscan") == "on"
            plans = []
            for text, city in itertools.product(texts, (None, "330100")):
                want = [c for c, n, k in zip(served.codes, served.names, served.cities, strict=True)
                        if text.lower() in n.lower() and city in (None, k)]  # fmt: skip
                for limit, offset in pages:
                    recording = _Recording(db)
                    items, total, exact = await reads.search(
                        recording, q=text, uscc=None, city=city, grade=None, sector=None,  # type: ignore[arg-type]
                        limit=limit, offset=offset,
                    )  # fmt: skip
                    assert [i["uscc"] for i in items] == want[offset : offset + limit], text
                    assert (total, exact) == (
                        (len(want), True) if len(want) <= SEARCH_COUNT_CAP
                        else (SEARCH_COUNT_CAP, False)
                    )  # fmt: skip
                    for (sql, args), mode in itertools.product(recording.sent, _PLANS):
                        plan = await _explain(conn, sql, args, mode)
                        plans.append((f"{text} {mode}", list(_scans(plan))))
            return plans
        finally:
            await conn.close()
            await db.close()

    plans = asyncio.run(check())
    most = 0
    for text, scans in plans:
        # No statement reads a quarter of the table: not by a seq scan (a text in most
        # names, 有限公, is met at once: PostgreSQL stops at the count's cap), nor by a walk
        # of the primary key that hopes to meet matches soon (餐饮管's were all late).
        read = [n for kind, table, n in scans if table == "enterprise"]
        most = max(most, *read, 0)
        assert sum(read) <= FIRMS // 4, (text, scans)
    print(f"the most rows one scan read: {most:,} of {FIRMS:,}")
    # The generic plans were other plans (37 of the statements here), bounded too.
    kinds = [[k for k, _, _ in scans] for _, scans in plans]
    assert any(c != g for c, g in zip(kinds[::2], kinds[1::2], strict=True))
    assert any(kind == "Bitmap Index Scan" for _, scans in plans for kind, _, _ in scans)


@pytest.mark.parametrize(
    ("q", "rule"),
    [("杭", "too_short"), ("杭州", "too_short"), ("a b", "too_short"), ("杭 州 市", "too_short"),
     ("（）", "no_letters"), ("%_", "no_letters"), (" 、，。 ", "no_letters")],
)  # fmt: skip
def test_a_text_no_index_answers_is_a_clear_422_for_pages_and_exports(
    served: Served, q: str, rule: str
) -> None:
    for params in ({}, {"city": "杭州"}, {"format": "csv"}, {"format": "jsonl"}):
        for role in ("public", "bank"):
            body = _error(served.get("/v1/enterprises", role, q=q, **params), 422,
                          "invalid_parameter")  # fmt: skip
            assert [(d["field"], d["rule"]) for d in body["details"]] == [("q", rule)]
            assert repr(q.strip()) in body["message"]
            if rule == "too_short":
                assert "3 letters or digits in a row" in body["message"]
                assert "credit code" in body["message"]


def test_a_text_with_a_trigram_is_answered(served: Served) -> None:
    q = served.names[123][2:5]
    want = sorted(i for i, n in enumerate(served.names) if q.lower() in n.lower())
    got = served.get("/v1/enterprises", q=q, size=100).json()
    assert got["total"] == len(want) > 0
    assert all(q in e["name"] for e in got["items"])
    lines = served.get("/v1/enterprises", q=q, format="jsonl").text.splitlines()
    assert len(lines) == len(want)


# --- deep pages and big exports --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role", "params"),
    [("/v1/enterprises", "public", {}), ("/v1/enterprises", "public", {"format": "json"}),
     ("/v1/enterprises", "bank", {"q": "有限公司", "city": "杭州"}),
     ("/v1/blacklist", "public", {"active": "false"}), ("/v1/penalties", "bank", {}),
     ("/v1/priority", "public", {}), ("/v1/enterprises/{uscc}/history", "admin", {})],
)  # fmt: skip
def test_pages_past_the_stated_depth_are_422_saying_to_narrow_the_filters(
    served: Served, path: str, role: str, params: dict[str, str]
) -> None:
    path = path.format(uscc=served.codes[0])
    for page, size in ((101, 100), (501, 20), (10_000, 2), (10_000, 100)):
        body = _error(served.get(path, role, page=page, size=size, **params), 422,
                      "page_too_deep")  # fmt: skip
        assert [(d["field"], d["rule"]) for d in body["details"]] == [("page", "page_too_deep")]
        assert "10,000" in body["message"]
        assert "narrow the filters" in body["message"]
    for page, size in ((100, 100), (10_000, 1), (1, 100)):
        answer = served.get(path, role, page=page, size=size, **params)
        assert answer.status_code == 200, answer.text
        assert answer.json()["page"] == page


def test_an_export_over_the_row_cap_is_refused_before_any_row(served: Served) -> None:
    for path, params in (("/v1/enterprises", {}), ("/v1/enterprises", {"q": "有限公司"}),
                         ("/v1/blacklist", {"active": "false"}), ("/v1/penalties", {})):  # fmt: skip
        total = served.get(path, "bank", **params).json()["total"]
        for fmt in ("csv", "jsonl"):
            answer = served.get(path, "bank", format=fmt, **params)
            if total > EXPORT_ROWS or path == "/v1/enterprises":
                body = _error(answer, 422, "export_too_large")
                assert f"more than {EXPORT_ROWS:,} rows" in body["message"]
                assert "narrow the filters" in body["message"]
                assert "content-disposition" not in answer.headers
            else:
                assert answer.status_code == 200, (path, answer.text[:300])
    # Under the cap, whole: a city's firms.
    counts = dict(fetch(served.database_url, "select city_code, count(*) from credit.enterprise"
                        " group by city_code"))  # fmt: skip
    city = min(counts, key=lambda c: counts[c])
    assert counts[city] <= EXPORT_ROWS
    lines = served.get("/v1/enterprises", "bank", city=city, format="jsonl").text.splitlines()
    assert len(lines) == counts[city]


def test_an_export_of_exactly_the_cap_is_whole_and_one_more_row_is_refused(
    served: Served,
) -> None:
    from query.errors import InvalidParameter  # noqa: PLC0415

    async def export(cap: int) -> int:
        db = Database(served.database_url, check_schema=False)
        try:
            rows = 0
            async for chunk in reads.all_matches(db, q=None, uscc=None, city=None, grade=None,
                                                 sector=None, cap=cap):  # fmt: skip
                rows += len(chunk)
            return rows
        finally:
            await db.close()

    assert asyncio.run(export(FIRMS)) == FIRMS
    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(export(FIRMS - 1))
    assert refused.value.body()["error"] == "export_too_large"


# --- what the public may know ----------------------------------------------------------------


def _firm(served: Served, factor: str) -> dict[str, Any]:
    """A stored profile with a factor ``factor`` (of hidden facts)."""
    rows = fetch(served.database_url, "select profile::text from credit.enterprise"
                 " where profile->'factors' @> $1::jsonb order by uscc limit 1",
                 orjson.dumps([{"code": factor}]).decode())  # fmt: skip
    assert rows, factor
    profile: dict[str, Any] = orjson.loads(rows[0][0])
    return profile


def _secrets(stored: dict[str, Any]) -> list[str]:
    """Texts of ``stored`` that only a key may read: amounts and the hidden factors' facts."""
    texts = [t["amount"] for t in stored["tax_paid"] if t["amount"] not in ("0", "0.00")]
    if stored["arrears_outstanding"] not in ("0", "0.00"):
        texts.append(stored["arrears_outstanding"])
    texts += [f["facts"] for f in stored["factors"] if f["code"] in ("tax_paid", "arrears")]
    return texts


@pytest.mark.parametrize("factor", ["tax_paid", "arrears"])
def test_no_public_answer_carries_the_score_or_the_factors_of_tax_amounts(
    served: Served, factor: str
) -> None:
    stored = _firm(served, factor)
    uscc, secrets = stored["uscc"], _secrets(stored)
    public_factors = [f for f in stored["factors"] if f["code"] not in ("tax_paid", "arrears")]
    assert secrets

    def clean(answer: httpx.Response) -> str:
        assert answer.status_code == 200, answer.text
        assert not [s for s in secrets if s in answer.text], answer.text
        return answer.text

    profile = served.get(f"/v1/enterprises/{uscc}").json()
    clean(served.get(f"/v1/enterprises/{uscc}"))
    assert profile["score"] is None
    assert profile["hidden"] == list(PUBLIC_HIDDEN)  # its list: tests/unit/query/test_views.py
    assert profile["factors"] == public_factors
    assert [g["score"] for g in profile["tax_grades"]] == [None] * len(stored["tax_grades"])
    assert profile["grade"] == stored["grade"]

    looked = httpx.post(f"{served.url}/v1/enterprises/lookup", json={"codes": [uscc]}, timeout=30)
    clean(looked)
    assert looked.json()["profiles"] == [profile]

    text = stored["name"][2:5]
    for params in ({"q": uscc}, {"q": text}, {"q": text, "grade": stored["grade"]}):
        items = served.get("/v1/enterprises", **params, size=100).json()["items"]
        mine = [i for i in items if i["uscc"] == uscc]
        assert mine, params
        assert all(i["score"] is None for i in items)
        clean(served.get("/v1/enterprises", **params, size=100))
        lines = clean(served.get("/v1/enterprises", **params, format="jsonl")).splitlines()
        assert all(orjson.loads(line)["score"] is None for line in lines)
        table = list(csv.DictReader(io.StringIO(
            clean(served.get("/v1/enterprises", **params, format="csv")).removeprefix("\ufeff"))))  # fmt: skip
        assert {row["score"] for row in table} == {""}
        assert uscc in {row["uscc"] for row in table}

    # A key's role sees it all.
    bank = served.get(f"/v1/enterprises/{uscc}", "bank").json()
    assert (bank["score"], bank["factors"]) == (stored["score"], stored["factors"])
    assert [g["score"] for g in bank["tax_grades"]] == [g["score"] for g in stored["tax_grades"]]
    found = served.get("/v1/enterprises", "bank", q=uscc).json()["items"]
    assert [i["score"] for i in found] == [stored["score"]]
