"""query/db.py: a statement PostgreSQL cancelled is a 503 ``query_timeout`` and the
database still counts as up; a pool whose every connection stays in use is a 503
``database_busy``, not down; a lost connection is ``database_unavailable`` and down.

Over a stand-in pool (the real server's cancellation is tested over HTTP in
tests/integration/test_query_api.py).
"""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg
import pytest

from query.db import Database, _ms
from query.errors import DatabaseBusy, DatabaseUnavailable, QueryTimeout


class _Conn:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def fetchval(self, *args: Any) -> Any:
        raise self.error

    async def fetch(self, *args: Any) -> Any:
        raise self.error


class _Pool:
    """A pool of ``size`` connections, ``idle`` of them free; its acquire fails with
    ``acquire_error`` if given, and its connections' statements with ``error``."""

    def __init__(self, error: BaseException, *, acquire_error: BaseException | None = None,
                 size: int = 1, idle: int = 1) -> None:  # fmt: skip
        self.conn = _Conn(error)
        self.acquire_error = acquire_error
        self.size, self.idle = size, idle
        self.released = 0

    async def acquire(self, **options: Any) -> _Conn:
        if self.acquire_error is not None:
            raise self.acquire_error
        return self.conn

    async def release(self, conn: _Conn) -> None:
        self.released += 1

    def get_size(self) -> int:
        return self.size

    def get_idle_size(self) -> int:
        return self.idle


def _db(error: BaseException, **pool: Any) -> tuple[Database, list[bool]]:
    states: list[bool] = []
    db = Database("postgresql://unused", check_schema=False, on_state=states.append)
    db._pool = _Pool(error, **pool)  # type: ignore[assignment]
    return db, states


@pytest.mark.parametrize("call", ["fetchval", "fetch"])
async def test_a_cancelled_statement_is_a_query_timeout_and_the_database_is_up(call: str) -> None:
    db, states = _db(asyncpg.QueryCanceledError("canceling statement due to statement timeout"))
    with pytest.raises(QueryTimeout) as caught:
        await getattr(db, call)("select 1")
    assert caught.value.status == 503
    assert caught.value.body()["error"] == "query_timeout"
    assert caught.value.headers() == {"Retry-After": "5"}
    assert states == [True]
    assert db._pool.released == 1  # type: ignore[union-attr]


async def test_an_admin_shutdown_is_still_unavailable() -> None:
    db, states = _db(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    with pytest.raises(DatabaseUnavailable):
        await db.fetchval("select 1")
    assert states == [False]


async def test_waiting_for_a_connection_while_all_are_in_use_is_busy_not_down() -> None:
    db, states = _db(RuntimeError("not reached"), acquire_error=TimeoutError(), size=8, idle=0)
    with pytest.raises(DatabaseBusy) as caught:
        await db.fetchval("select 1")
    assert caught.value.body()["error"] == "database_busy"
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(DatabaseBusy):
            await stack.enter_async_context(db.connection())
    assert states == []
    # Timing out while connecting (a pool not full) is PostgreSQL not answering.
    db, states = _db(RuntimeError("not reached"), acquire_error=TimeoutError(), size=3, idle=0)
    with pytest.raises(DatabaseUnavailable):
        await db.fetchval("select 1")
    assert states == [False]


def test_the_statement_timeout_goes_to_the_server_in_milliseconds() -> None:
    assert (_ms(2.0), _ms(0.25), _ms(0.0001)) == ("2000", "250", "1")
