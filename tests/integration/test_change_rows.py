"""The sink's change rows (sink/writer.py, sink/changes.py) and the feed's reader
(query/changes.py ``PAGE_SQL``) on a real PostgreSQL: each change written once, in the
rows' transaction, and a cursor that cannot pass a change still being committed."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from query.changes import PAGE_SQL
from query.db import migrate_all
from readmodel import rows as r
from sink.gauges import prune_changes
from sink.writer import Batch, prepare, write_batch
from tests.samples import SAMPLES

KEY = "feedtest"
PROFILE = SAMPLES["profiles"]
NOTICE = SAMPLES["penalties"]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await migrate_all(connection)
    await prepare(connection)
    await connection.execute(
        "insert into access.watchlist (key_id, uscc) values ($1, $2), ($1, $3)",
        KEY, PROFILE["uscc"], NOTICE["uscc"],
    )  # fmt: skip
    yield connection
    await connection.close()


def _profile(**changed: Any) -> Batch:
    batch = Batch("t.profiles", 0, next_offset=changed.pop("offset", 1))
    batch.profiles.append(r.profile_rows({**PROFILE, **changed}))
    return batch


async def _changes(conn: asyncpg.Connection, since: tuple[int, int] = (0, 0)) -> list[Any]:
    rows = await conn.fetch(PAGE_SQL, KEY, str(since[0]), since[1], 1000)
    return [(row["kind"], row["before"], row["after"]) for row in rows]


async def test_a_profile_version_and_a_notice_change_once_however_often_written(
    conn: asyncpg.Connection,
) -> None:
    await write_batch(conn, _profile())
    assert await _changes(conn) == []  # a new enterprise changed from nothing
    worse = _profile(version=8, grade="POOR", score=380, tax_grade="D", offset=2,
                     credit_line={**PROFILE["credit_line"], "eligible": False})  # fmt: skip
    await write_batch(conn, worse)
    await write_batch(conn, worse)  # a replay: the version guard writes nothing again
    await write_batch(conn, _profile(version=6, grade="GOOD", offset=3))  # older: ignored
    expected = [("grade", '"EXCELLENT"', '"POOR"'), ("score_band", "900", "300"),
                ("tax_grade", '"A"', '"D"'), ("credit_line_refused", "true", "false")]  # fmt: skip
    assert await _changes(conn) == expected

    notice = Batch("t.penalties", 0, next_offset=1)
    row, measures = r.notice_rows(NOTICE)
    notice.notices.append(row)
    notice.notice_measures.extend(measures)
    await write_batch(conn, notice)
    await write_batch(conn, notice)  # the same notice again is the same notice
    assert (await _changes(conn))[4:] == [("listed", None, '"court_defaulter"')]


async def test_a_reader_returns_nothing_an_older_running_transaction_may_still_precede(
    conn: asyncpg.Connection, database_url: str
) -> None:
    insert = ("insert into credit.change (uscc, kind, after, reported_at) "
              "values ($1, 'grade', '\"POOR\"', now())")  # fmt: skip
    older = await asyncpg.connect(database_url)
    newer = await asyncpg.connect(database_url)
    try:
        first = older.transaction()
        await first.start()
        await older.execute("select pg_current_xact_id()")  # the older transaction's id
        async with newer.transaction():  # a younger transaction writes and commits first
            await newer.execute(insert, PROFILE["uscc"])
        await older.execute(insert, NOTICE["uscc"])
        # An id-ordered reader would return the committed row and move past it; this one
        # waits: the older transaction may still commit a row before it in (txid, id).
        assert await _changes(conn) == []
        await first.commit()
        rows = await conn.fetch(PAGE_SQL, KEY, "0", 0, 1000)
        assert [row["uscc"] for row in rows] == [NOTICE["uscc"], PROFILE["uscc"]]
        cursor = (int(rows[0]["txid"]), rows[0]["id"])
        assert [row["uscc"] for row in await conn.fetch(PAGE_SQL, KEY, str(cursor[0]),
                                                        cursor[1], 1000)] == [PROFILE["uscc"]]  # fmt: skip
    finally:
        await older.close()
        await newer.close()


async def test_changes_past_the_retention_are_pruned(conn: asyncpg.Connection) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=91)
    await conn.execute(
        "insert into credit.change (uscc, kind, after, reported_at, changed_at) values "
        "($1, 'grade', '\"POOR\"', $2, $2), ($1, 'grade', '\"GOOD\"', now(), now())",
        PROFILE["uscc"], old,
    )  # fmt: skip
    assert await prune_changes(conn) == 1
    assert await _changes(conn) == [("grade", None, '"GOOD"')]
