"""query/db.py: a statement PostgreSQL cancelled is a 503 ``query_timeout`` and the
database still counts as up; a lost connection is ``database_unavailable`` and down.

Over a stand-in pool (the real server's cancellation is tested over HTTP in
tests/integration/test_query_api.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from query.db import Database, _ms
from query.errors import DatabaseUnavailable, QueryTimeout


class _Conn:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def fetchval(self, *args: Any) -> Any:
        raise self.error

    async def fetch(self, *args: Any) -> Any:
        raise self.error


class _Pool:
    def __init__(self, error: BaseException) -> None:
        self.conn = _Conn(error)

    def acquire(self, timeout: float) -> Any:  # as asyncpg's: a context, not a coroutine
        return self._held()

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[_Conn]:
        yield self.conn


def _db(error: BaseException) -> tuple[Database, list[bool]]:
    states: list[bool] = []
    db = Database("postgresql://unused", check_schema=False, on_state=states.append)
    db._pool = _Pool(error)  # type: ignore[assignment]
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


async def test_an_admin_shutdown_is_still_unavailable() -> None:
    db, states = _db(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    with pytest.raises(DatabaseUnavailable):
        await db.fetchval("select 1")
    assert states == [False]


def test_the_statement_timeout_goes_to_the_server_in_milliseconds() -> None:
    assert (_ms(2.0), _ms(0.25), _ms(0.0001)) == ("2000", "250", "1")
