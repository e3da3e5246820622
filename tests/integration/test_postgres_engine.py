"""asyncpg on the real PostgreSQL: rows and consumed offsets commit or vanish together.

This is the mechanism the sink's exactly-once rests on (BRIEF principle 4): the offset
of the last consumed record is stored in the same transaction as the rows it produced.
"""

from __future__ import annotations

import asyncpg
import pytest

SCHEMA = """
create table profile (uscc text primary key, name text not null, version bigint not null);
create table consumed_offset (
    topic text not null, partition int not null, next_offset bigint not null,
    primary key (topic, partition)
);
"""
UPSERT_OFFSET = """
insert into consumed_offset values ($1, $2, $3)
on conflict (topic, partition) do update set next_offset = excluded.next_offset
"""


class _CrashError(Exception):
    """Stands for the sink process dying mid-transaction."""


async def _write_batch(
    conn: asyncpg.Connection, rows: list[tuple[str, str, int]], next_offset: int
) -> None:
    await conn.copy_records_to_table("profile", records=rows)
    await conn.execute(UPSERT_OFFSET, "zjcredit.profiles", 0, next_offset)


async def test_rows_and_offsets_commit_together(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(SCHEMA)
        rows = [("91330100716105852F", "阿里巴巴（中国）网络技术有限公司", 1),
                ("91330000733796106P", "杭州海康威视数字技术股份有限公司", 1)]  # fmt: skip
        async with conn.transaction():
            await _write_batch(conn, rows, next_offset=2)

        stored = await conn.fetch("select uscc, name, version from profile order by uscc")
        offset = await conn.fetchval("select next_offset from consumed_offset")
        assert [tuple(r) for r in stored] == sorted(rows)
        assert offset == 2
    finally:
        await conn.close()


async def test_a_crash_mid_batch_leaves_neither_rows_nor_offset(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(SCHEMA)

        async def crash_mid_batch() -> None:
            async with conn.transaction():
                await _write_batch(conn, [("91330000727215176K", "浙江大华技术股份有限公司", 1)], 1)
                raise _CrashError

        with pytest.raises(_CrashError):
            await crash_mid_batch()

        assert await conn.fetchval("select count(*) from profile") == 0
        assert await conn.fetchval("select count(*) from consumed_offset") == 0
    finally:
        await conn.close()


async def test_a_refused_row_is_reported_by_sqlstate_class(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(SCHEMA)
        row = ("913301067046373179", "蚂蚁科技集团股份有限公司", 1)
        await conn.copy_records_to_table("profile", records=[row])
        with pytest.raises(asyncpg.UniqueViolationError):
            async with conn.transaction():
                await _write_batch(conn, [row], next_offset=2)
        assert await conn.fetchval("select count(*) from consumed_offset") == 0
    finally:
        await conn.close()


async def test_chinese_names_match_by_trigram_index(database_url: str) -> None:
    """pg_trgm must see Chinese characters as word characters (the server's C.UTF-8 ctype)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("create extension if not exists pg_trgm")
        await conn.execute(SCHEMA)
        await conn.execute("create index on profile using gin (name gin_trgm_ops)")
        await conn.copy_records_to_table(
            "profile",
            records=[("91330000733796106P", "杭州海康威视数字技术股份有限公司", 1),
                     ("91330000727215176K", "浙江大华技术股份有限公司", 1)],
        )  # fmt: skip
        trigrams = await conn.fetchval("select show_trgm('海康威视')")
        assert trigrams, "pg_trgm produced no trigrams for Chinese text"
        found = await conn.fetch("select uscc from profile where name like '%康威视%'")
        assert [r["uscc"] for r in found] == ["91330000733796106P"]
    finally:
        await conn.close()
