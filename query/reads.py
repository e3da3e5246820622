"""The read model's queries, one function per route; each returns plain dicts for the
response models (query/models.py). SQL text is constant; every value is a $n parameter.

Pages are ``limit``/``offset`` in an order that ends with a unique key, so pages never
overlap while the data is unchanged; ``count(*) over ()`` gives the total in the same
statement, except in search, whose count is capped (:data:`SEARCH_COUNT_CAP`). The
``all_*`` functions give every row of a list route, for its exports (query/exports.py).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson

from query.db import Database
from query.errors import InvalidParameter
from query.roles import GRADE_ZH, city_name, department_name, sector_name
from schemas.sectors import SectorCatalog
from schemas.uscc import ZHEJIANG_CITIES

__all__ = [
    "EXPORT_CHUNK",
    "EXPORT_ROWS",
    "EXPORT_STATEMENT_TIMEOUT",
    "SEARCH_COUNT_CAP",
    "STATS_SECONDS",
    "all_listings",
    "all_matches",
    "all_penalties",
    "enterprise_exists",
    "history",
    "listings",
    "penalties",
    "priority",
    "profile",
    "profile_version",
    "profiles",
    "search",
    "stats",
]

Page = tuple[list[dict[str, Any]], int]

SEARCH_COUNT_CAP = 1_000
"""A search counts its matches up to this many (a two-character name text such as 杭州
matches a fifth of the province: counting them all took seconds)."""

WALK_ROWS = 20_000
"""A search of a common text first looks for its page among this many first codes."""
SORTED_MATCHES = 50_000
"""...then sorts its matches if it has at most this many (see ``_common_text_page``)."""

EXPORT_CHUNK = 500
"""Rows per fetch of an export's cursor."""
EXPORT_ROWS = 100_000
"""The most rows one export may have (``ZJCREDIT_EXPORT_ROWS``); more is a 422."""
EXPORT_STATEMENT_TIMEOUT = "30s"
"""How long each statement of an export (its first fetch sorts every match) may run."""

Chunks = AsyncGenerator[list[dict[str, Any]], None]

_SUMMARY = "uscc, name, status, city_code, score, grade, tax_grade, listed_sectors, zjtx_level"


class _Where:
    """A ``where`` clause of constant fragments for the filters given, values as $n.

    Only the filters in use are in the statement: ``($1 is null or col = $1)`` would let
    PostgreSQL's generic plan (from the 6th execution of a prepared statement) ignore the
    indexes.
    """

    def __init__(self, *always: str) -> None:
        self.parts = list(always)
        self.args: list[Any] = []

    def add(self, fragment: str, value: Any) -> None:
        """``fragment`` has one ``{}`` where the value goes; a None value adds nothing."""
        if value is not None:
            self.args.append(value)
            self.parts.append(fragment.format(f"${len(self.args)}"))

    def sql(self) -> str:
        return " where " + " and ".join(self.parts) if self.parts else ""

    def page(self, limit: int, offset: int) -> tuple[str, list[Any]]:
        n = len(self.args)
        return f" limit ${n + 1} offset ${n + 2}", [*self.args, limit, offset]


async def _chunks(db: Database, sql: str, args: list[Any], item: Callable[[Any], dict[str, Any]],
                  *, rows_of: str, cap: int) -> Chunks:  # fmt: skip
    """The rows of ``sql`` as items, :data:`EXPORT_CHUNK` at a time, from a server-side
    cursor in one read-only repeatable-read transaction: a consistent snapshot, however
    long the caller takes to send them on; the connection is held until the end.

    First, in the same snapshot, ``rows_of`` (``from ... where ...`` of ``sql``, unordered)
    is counted up to ``cap + 1``: more than ``cap`` rows is a 422 ``export_too_large``
    before any row, so an export is either every match or refused, never cut short
    without a word (a saved file keeps no header that would say so).

    The statement is prepared afresh (not from asyncpg's cache), so PostgreSQL plans it
    for these values: a cached one gets a generic plan from its 6th run, blind to a
    search's text (see :func:`search`); one more round trip is nothing to an export.
    Each of its statements may run :data:`EXPORT_STATEMENT_TIMEOUT` (``set local``: for
    this transaction only).
    """
    async with db.connection() as conn, conn.transaction(isolation="repeatable_read",
                                                         readonly=True):  # fmt: skip
        await conn.execute(f"set local statement_timeout = '{EXPORT_STATEMENT_TIMEOUT}'")
        counted = await conn.fetchval(
            f"select count(*) from (select 1 {rows_of} limit ${len(args) + 1}) s", *args, cap + 1
        )
        if counted > cap:
            raise InvalidParameter.one(
                "format", "max_rows",
                f"the export has more than {cap:,} rows, the most one export may have: narrow "
                f"the filters (sector, city, department, q, ...) and export the parts",
                error="export_too_large",
            )  # fmt: skip
        cursor = await (await conn.prepare(sql)).cursor(*args)
        while rows := await cursor.fetch(EXPORT_CHUNK):
            yield [item(r) for r in rows]


def _summary(r: Any) -> dict[str, Any]:
    return {
        **{k: v for k, v in r.items() if k not in {"total", "matched"}},
        "city": city_name(r["city_code"]),
        "grade_zh": GRADE_ZH[r["grade"]],
        "listed_sectors": list(r["listed_sectors"]),
    }


def _total(rows: list[Any]) -> int:
    return int(rows[0]["total"]) if rows else 0


async def profile(db: Database, uscc: str) -> dict[str, Any] | None:
    """The stored profile (canonical JSON: decimals as strings, ISO dates) or None."""
    text = await db.fetchval("select profile::text from credit.enterprise where uscc = $1", uscc)
    return orjson.loads(text) if text is not None else None


async def profile_version(db: Database, uscc: str) -> int | None:
    """The stored profile's version (what its ETag is made of) or None."""
    version = await db.fetchval("select version from credit.enterprise where uscc = $1", uscc)
    return int(version) if version is not None else None


async def profiles(db: Database, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The stored profiles of those ``codes`` that exist, by code: one round trip."""
    rows = await db.fetch(
        "select uscc, profile::text as profile from credit.enterprise where uscc = any($1::text[])",
        codes,
    )
    return {r["uscc"]: orjson.loads(r["profile"]) for r in rows}


async def enterprise_exists(db: Database, uscc: str) -> bool:
    return bool(await db.fetchval("select true from credit.enterprise where uscc = $1", uscc))


def _search_where(*, q: str | None, uscc: str | None, city: str | None, grade: str | None,
                  sector: str | None) -> _Where:  # fmt: skip
    where = _Where()
    if q is not None:
        # pg_trgm serves LIKE '%...%' from the name's trigram index; the text's own
        # wildcards are escaped so that they match themselves. LIKE where the text has no
        # letters with case (Chinese): the same matches, and half the cost of ILIKE on a
        # row it must read.
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        op = "ilike" if q.lower() != q.upper() else "like"
        where.add(f"name {op} {{}}", f"%{escaped}%")
    where.add("uscc = {}", uscc)
    where.add("city_code = {}", city)
    where.add("grade = {}", grade)
    where.add("listed_sectors @> array[{}::text]", sector)
    return where


def all_matches(db: Database, *, q: str | None, uscc: str | None, city: str | None,
                grade: str | None, sector: str | None,
                cap: int = EXPORT_ROWS) -> Chunks:  # fmt: skip
    """Every match of :func:`search` (no count cap; at most ``cap``), in its order, in chunks."""
    where = _search_where(q=q, uscc=uscc, city=city, grade=grade, sector=sector)
    rows_of = f"from credit.enterprise{where.sql()}"
    # The matches first, by whatever index suits the filters, then sorted (as search does).
    sql = f"with m as materialized (select {_SUMMARY} {rows_of}) select * from m order by uscc"
    return _chunks(db, sql, where.args, _summary, rows_of=rows_of, cap=cap)


async def search(db: Database, *, q: str | None, uscc: str | None, city: str | None,
                 grade: str | None, sector: str | None, limit: int,
                 offset: int) -> tuple[list[dict[str, Any]], int, bool]:  # fmt: skip
    """A page of matches and ``(total, exact)``: the total counts at most
    :data:`SEARCH_COUNT_CAP` matches; beyond that it is the cap and ``exact`` is False."""
    where = _search_where(q=q, uscc=uscc, city=city, grade=grade, sector=sector)
    # First the matches, at most CAP + 1 of them, found by whatever index suits the
    # filters (the trigram index for a text), then put in code order for the page: the
    # work is bounded by the matches. An `order by uscc limit` alone lets PostgreSQL walk
    # the primary key hoping to meet matches soon, and its estimates for a text are rough:
    # 峰益贸易 (est. 10,000, in fact 21) read the whole table, 5 s at a million firms.
    n = len(where.args)
    matches = f"select {_SUMMARY} from credit.enterprise{where.sql()} limit {SEARCH_COUNT_CAP + 1}"
    first_sql = (f"select *, count(*) over () as matched from ({matches}) m"
                 f" order by uscc limit ${n + 1} offset ${n + 2}")  # fmt: skip
    args = [*where.args, limit, offset]
    # Under 3 characters there is no trigram: PostgreSQL reads rows, and only a plan made
    # for this text knows how (杭州, a fifth of the province, stops early; a rare pair reads
    # the table). A cached statement gets a generic plan, blind to the text, from its 6th
    # run; so these are prepared afresh.
    fresh = q is not None and len(q) < 3
    async with db.connection() as conn:
        rows = await _fetch(conn, first_sql, args, fresh=fresh)
        if rows:
            matched = rows[0]["matched"]
        elif not offset:
            matched = 0
        else:  # past the last page
            matched = (await _fetch(conn, f"select count(*) from ({matches}) m", where.args,
                                    fresh=fresh))[0][0]  # fmt: skip
        if matched <= SEARCH_COUNT_CAP:
            return [_summary(r) for r in rows], matched, True
        page = None
        if q is not None:
            page = await _common_text_page(conn, where, limit, offset, fresh=fresh)
        if page is not None:
            rows = page
        else:
            # More than the cap of plain filters (city, grade: indexes in code order), or
            # of a text in more than SORTED_MATCHES names: met soon in code order.
            limit_sql, _ = where.page(limit, offset)
            rows = await _fetch(
                conn,
                f"select {_SUMMARY} from credit.enterprise{where.sql()} order by uscc{limit_sql}",
                args, fresh=fresh,
            )  # fmt: skip
    return [_summary(r) for r in rows], SEARCH_COUNT_CAP, False


async def _common_text_page(conn: Any, where: _Where, limit: int, offset: int, *,
                            fresh: bool) -> list[Any] | None:  # fmt: skip
    """The page of a text with more than the count's cap of matches, in code order, with
    bounded work; None if it has more than :data:`SORTED_MATCHES` (then the caller walks
    the code order, where matches that dense are met soon).

    Walking the primary key until the page is full (what PostgreSQL picks for ``order by
    uscc limit``, counting on matches spread evenly) read 190,000 of 200,000 rows for
    餐饮管 (3,399 matches, all late in code order: names and codes go together, a city's
    firms share a code prefix), 2 s. So: first the walk over the first :data:`WALK_ROWS`
    codes only, whose matches are the first in code order: if the page is among them, it
    is the page. Else every match (at most SORTED_MATCHES, from the trigram index) sorted.
    """
    n = len(where.args)
    limit_sql, args = where.page(limit, offset)
    walked = await _fetch(
        conn,
        f"select * from (select {_SUMMARY} from credit.enterprise order by uscc"
        f" limit {WALK_ROWS}) e{where.sql()} order by uscc{limit_sql}",
        args, fresh=fresh,
    )  # fmt: skip
    if len(walked) == limit:
        return walked
    matches = f"select {_SUMMARY} from credit.enterprise{where.sql()} limit {SORTED_MATCHES + 1}"
    rows = await _fetch(
        conn,
        f"select *, count(*) over () as matched from ({matches}) m"
        f" order by uscc limit ${n + 1} offset ${n + 2}",
        args, fresh=fresh,
    )  # fmt: skip
    if rows and rows[0]["matched"] > SORTED_MATCHES:
        return None
    return rows


async def _fetch(conn: Any, sql: str, args: list[Any], *, fresh: bool) -> list[Any]:
    if fresh:
        return list(await (await conn.prepare(sql)).fetch(*args))
    return list(await conn.fetch(sql, *args))


async def history(db: Database, uscc: str, *, limit: int, offset: int) -> Page:
    rows = await db.fetch(
        "select event_id::text, source, event_type, occurred_at, reported_at,"
        " payload::text as payload, count(*) over () as total from credit.event"
        " where uscc = $1 order by occurred_at desc, reported_at desc, event_id"
        " limit $2 offset $3",
        uscc, limit, offset,
    )  # fmt: skip
    items = []
    for r in rows:
        payload = orjson.loads(r["payload"])
        items.append({
            "event_id": r["event_id"], "source": r["source"], "event_type": r["event_type"],
            "department": payload.get("department"), "occurred_at": r["occurred_at"],
            "reported_at": r["reported_at"], "payload": payload,
        })  # fmt: skip
    return items, _total(rows)


_LISTINGS_OF = "from credit.listing l join credit.enterprise e using (uscc){where}"
_LISTINGS = (
    "select l.uscc, e.name, e.city_code, l.sector, l.decision_no, l.department,"
    " l.listed_on, l.planned_end_on, l.reason, l.in_force, l.ended_on, l.ground{total} "
    + _LISTINGS_OF + " order by l.listed_on desc, l.uscc, l.sector, l.decision_no"
)  # fmt: skip


def _listings_where(sector: str | None, city: str | None, active: bool) -> _Where:
    where = _Where()
    where.add("l.in_force = {}", active)
    where.add("l.sector = {}", sector)
    where.add("e.city_code = {}", city)
    return where


def _listing(catalog: SectorCatalog, r: Any) -> dict[str, Any]:
    return {**{k: v for k, v in r.items() if k != "total"},
            "city": city_name(r["city_code"]), "sector_name": sector_name(catalog, r["sector"]),
            "department_name": department_name(catalog, r["department"])}  # fmt: skip


async def listings(db: Database, catalog: SectorCatalog, *, sector: str | None,
                   city: str | None, active: bool, limit: int, offset: int) -> Page:  # fmt: skip
    where = _listings_where(sector, city, active)
    limit_sql, args = where.page(limit, offset)
    sql = _LISTINGS.format(total=", count(*) over () as total", where=where.sql())
    rows = await db.fetch(sql + limit_sql, *args)
    return [_listing(catalog, r) for r in rows], _total(rows)


def all_listings(db: Database, catalog: SectorCatalog, *, sector: str | None,
                 city: str | None, active: bool, cap: int = EXPORT_ROWS) -> Chunks:  # fmt: skip
    """Every listing :func:`listings` pages through (at most ``cap``), in its order, in chunks."""
    where = _listings_where(sector, city, active)
    sql = _LISTINGS.format(total="", where=where.sql())
    return _chunks(db, sql, where.args, functools.partial(_listing, catalog),
                   rows_of=_LISTINGS_OF.format(where=where.sql()), cap=cap)  # fmt: skip


_PENALTIES_OF = "from credit.penalty_measure m join credit.enterprise e using (uscc){where}"
_PENALTIES = (
    "select m.uscc, e.name, m.sector, m.decision_no, m.measure_code, m.measure,"
    " m.department{total} "
    + _PENALTIES_OF + " order by m.department, m.uscc, m.sector, m.decision_no, m.measure_code"
)  # fmt: skip


def _penalties_where(department: str | None, uscc: str | None) -> _Where:
    where = _Where()
    where.add("m.department = {}", department)
    where.add("m.uscc = {}", uscc)
    return where


def _penalty(catalog: SectorCatalog, r: Any) -> dict[str, Any]:
    return {**{k: v for k, v in r.items() if k != "total"},
            "sector_name": sector_name(catalog, r["sector"]),
            "department_name": department_name(catalog, r["department"])}  # fmt: skip


async def penalties(db: Database, catalog: SectorCatalog, *, department: str | None,
                    uscc: str | None, limit: int, offset: int) -> Page:  # fmt: skip
    where = _penalties_where(department, uscc)
    limit_sql, args = where.page(limit, offset)
    sql = _PENALTIES.format(total=", count(*) over () as total", where=where.sql())
    rows = await db.fetch(sql + limit_sql, *args)
    return [_penalty(catalog, r) for r in rows], _total(rows)


def all_penalties(db: Database, catalog: SectorCatalog, *, department: str | None,
                  uscc: str | None, cap: int = EXPORT_ROWS) -> Chunks:  # fmt: skip
    """Every measure :func:`penalties` pages through (at most ``cap``), in its order, in
    chunks."""
    where = _penalties_where(department, uscc)
    sql = _PENALTIES.format(total="", where=where.sql())
    return _chunks(db, sql, where.args, functools.partial(_penalty, catalog),
                   rows_of=_PENALTIES_OF.format(where=where.sql()), cap=cap)  # fmt: skip


_GRADE_RANK = "array_position(array['EXCELLENT', 'GOOD', 'FAIR', 'POOR'], grade)"


async def priority(db: Database, *, city: str | None, level: str | None, limit: int,
                   offset: int, by_score: bool = True) -> Page:  # fmt: skip
    """专精特新 firms, national first, then by score (or, not ``by_score``: by grade, for
    a role that may not see the score, which the order would give away), then code."""
    where = _Where("zjtx_level is not null")
    where.add("city_code = {}", city)
    where.add("zjtx_level = {}", level)
    limit_sql, args = where.page(limit, offset)
    rank = "score desc" if by_score else _GRADE_RANK
    rows = await db.fetch(
        f"select {_SUMMARY}, count(*) over () as total from credit.enterprise"
        f"{where.sql()} order by zjtx_level = 'NATIONAL' desc, {rank}, uscc{limit_sql}",
        *args,
    )
    items = []
    for r in rows:
        item = _summary(r)
        del item["status"]
        items.append(item)
    return items, _total(rows)


_STATS = """
select
  (select count(*) from credit.enterprise) as enterprises,
  (select coalesce(jsonb_object_agg(grade, n), '{}') from
     (select grade, count(*) n from credit.enterprise group by grade) g) as by_grade,
  (select coalesce(jsonb_object_agg(city_code, n), '{}') from
     (select city_code, count(*) n from credit.enterprise
      where city_code is not null group by city_code) c) as by_city,
  (select coalesce(jsonb_object_agg(coalesce(tax_grade, 'none'), n), '{}') from
     (select tax_grade, count(*) n from credit.enterprise group by tax_grade) t) as by_tax_grade,
  (select coalesce(jsonb_object_agg(sector, n), '{}') from
     (select sector, count(*) n from credit.listing where in_force group by sector) s)
     as by_sector,
  (select coalesce(jsonb_object_agg(zjtx_level, n), '{}') from
     (select zjtx_level, count(*) n from credit.enterprise
      where zjtx_level is not null group by zjtx_level) z) as zjtx,
  (select count(*) from credit.penalty_measure) as penalty_measures,
  (select max(as_of) from credit.enterprise) as as_of
"""


STATS_SECONDS = 30.0
"""The statement timeout of the stats' aggregate (the service runs it at most every
``stats_ttl`` seconds, not per request, so it may take longer than the pool's)."""


async def stats(db: Database, catalog: SectorCatalog) -> dict[str, Any]:
    row = await db.slow(_STATS, seconds=STATS_SECONDS)
    assert row is not None
    counted = {k: orjson.loads(row[k]) for k in
               ("by_grade", "by_city", "by_tax_grade", "by_sector", "zjtx")}  # fmt: skip

    # Every known value appears, 0 where there is none, so a client can draw a fixed axis.
    def full(name: str, keys: Any) -> dict[str, int]:
        return {**dict.fromkeys(keys, 0), **counted[name]}

    return {
        "enterprises": row["enterprises"],
        "by_grade": full("by_grade", GRADE_ZH),
        "by_city": full("by_city", ZHEJIANG_CITIES),
        "by_tax_grade": full("by_tax_grade", ("A", "B", "M", "C", "D", "none")),
        "by_sector": full("by_sector", catalog.sectors),
        "zjtx": full("zjtx", ("PROVINCIAL", "NATIONAL")),
        "penalty_measures": row["penalty_measures"],
        "as_of": row["as_of"],
    }
