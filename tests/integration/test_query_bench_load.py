"""The query bench's synthetic read model (benchmarks/query_load.py) looks like the sink's.

Every loaded code is valid and unique, each profile jsonb carries its row's code and
name, child rows follow their enterprise, the indexes the migration declares exist
again after the load, and the sampled search terms find their firms. The service's search, run on such a
model, pages and counts as documented.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator

import asyncpg
import pytest

from base.endpoints import Endpoints
from benchmarks.query_load import load_enterprises, make_templates
from query.db import Database
from query.reads import SEARCH_COUNT_CAP, search
from schemas.uscc import is_valid
from tests.readmodel import create_database, drop_database


@pytest.fixture
def scratch(stack: Endpoints) -> Iterator[str]:
    name = f"bench_load_{uuid.uuid4().hex[:8]}"
    url = create_database(stack.database_url, name)
    yield url
    drop_database(stack.database_url, name)


def test_a_small_load_is_a_valid_read_model(scratch: str) -> None:
    templates = make_templates(60)
    loaded = asyncio.run(load_enterprises(scratch, templates, 3_000, progress=False))
    assert loaded.rows["enterprise"] == 3_000
    assert len(loaded.codes) == len(loaded.terms) > 0

    async def check() -> None:
        conn = await asyncpg.connect(scratch)
        try:
            rows = await conn.fetch(
                "select uscc, name, profile->>'uscc' as p_uscc, profile->>'name' as p_name,"
                " (select count(*) from credit.tax_grade t where t.uscc = e.uscc) as grades,"
                " jsonb_array_length(profile->'tax_grades') as p_grades from credit.enterprise e"
            )
            assert len(rows) == 3_000
            assert len({r["uscc"] for r in rows}) == 3_000
            assert all(is_valid(r["uscc"]) for r in rows)
            assert all(r["uscc"] == r["p_uscc"] and r["name"] == r["p_name"] for r in rows)
            assert all(r["grades"] == r["p_grades"] for r in rows)
            for table, count in loaded.rows.items():
                assert await conn.fetchval(f"select count(*) from credit.{table}") == count  # noqa: S608
            indexes = {
                r[0]
                for r in await conn.fetch(
                    "select indexname from pg_indexes where schemaname = 'credit'"
                )
            }
            assert {"enterprise_name_trgm", "enterprise_city", "listing_sector"} <= indexes
            for term in loaded.terms[:20]:
                found = await conn.fetchval(
                    "select count(*) from credit.enterprise where name like $1", f"%{term}%"
                )
                assert found >= 1, term
        finally:
            await conn.close()

    asyncio.run(check())


def test_search_counts_to_a_cap_and_short_texts_still_match_substrings(scratch: str) -> None:
    """query/reads.py's search on the synthetic model: pages in code order equal to a
    plain ILIKE; totals exact under the cap, the cap (flagged) over it."""
    asyncio.run(load_enterprises(scratch, make_templates(60), 3_000, progress=False))

    async def check() -> None:
        db = Database(scratch, check_schema=False)
        conn = await asyncpg.connect(scratch)
        try:
            names = [r[0] for r in await conn.fetch("select name from credit.enterprise")]
            pairs = Counter(n[i : i + 2] for n in set(names) for i in range(len(n) - 1))
            common = pairs.most_common(1)[0][0]  # 有限 of 有限公司: most firms
            rare = next(p for p, k in reversed(pairs.most_common()) if 20 < k < 100)
            assert sum(common in n for n in names) > SEARCH_COUNT_CAP
            for text in (common, rare, common[0], "ab"):
                want = [r[0] for r in await conn.fetch(
                    "select uscc from credit.enterprise where name ilike $1 order by uscc",
                    f"%{text}%",
                )]  # fmt: skip
                for page, size in ((1, 20), (2, 7), (len(want) // 10 + 1, 10), (400, 10)):
                    items, total, exact = await search(
                        db, q=text, uscc=None, city=None, grade=None, sector=None,
                        limit=size, offset=(page - 1) * size,
                    )  # fmt: skip
                    got = [i["uscc"] for i in items]
                    assert got == want[(page - 1) * size : page * size], (text, page)
                    assert (total, exact) == (
                        (len(want), True) if len(want) <= SEARCH_COUNT_CAP
                        else (SEARCH_COUNT_CAP, False)
                    ), text  # fmt: skip
        finally:
            await conn.close()
            await db.close()

    asyncio.run(check())
