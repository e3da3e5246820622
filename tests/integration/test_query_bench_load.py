"""The query bench's synthetic read model (query/bench_load.py) looks like the sink's.

Every loaded code is valid and unique, each profile jsonb carries its row's code and
name, child rows follow their enterprise, the indexes the migration declares exist
again after the load, and the sampled search terms find their firms.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from query.bench_load import load_enterprises, make_templates
from schemas.uscc import is_valid
from tests.readmodel import create_database, drop_database
from zjcredit.stack import Endpoints


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
