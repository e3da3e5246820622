"""The query service's PostgreSQL: a lazily made asyncpg pool, failures as 503.

The pool is made on first use, not at start, so the service starts (and answers 503 on
``/healthz``) while PostgreSQL is still down, and recovers by itself when it is back.
On its first connection it checks that the migrations it needs are applied (the read
model's and the service's own API keys; ``zjcredit migrate`` applies them): the service
needs no DDL rights. A database behind is unavailable too (503, saying to run
``zjcredit migrate``), and the next request checks again.

Every statement is bounded in time on the server: the pool's connections run with
``statement_timeout`` (default 2 s), so a costly public question (a rare short text, a
deep page) is cancelled by PostgreSQL and frees its connection instead of holding one
of the 8 while others queue. A cancelled statement (SQLSTATE 57014) is
:class:`~query.errors.QueryTimeout`, a 503 that says so; PostgreSQL answered, so it does
not count as the database being down. A statement that must take longer (the stats'
aggregate, recomputed at most every 30 s) says so with :meth:`Database.slow`.
A request that waits ``timeout`` seconds for a connection while all of them are in use
is :class:`~query.errors.DatabaseBusy` (503 ``database_busy``), not unavailable either.

PostgreSQL being unavailable is recognised by the error's class, never its text:
connection errors (SQLSTATE class 08, refused or reset sockets, timeouts), operator
intervention (57: shutdown, failover), insufficient resources (53: too many
connections), and a read model not there (42P01 / 3F000: not migrated, or being
rebuilt). Each becomes :class:`~query.errors.DatabaseUnavailable`.

The pool does not reset a connection when it is given back (asyncpg's default runs
``pg_advisory_unlock_all(); close all; unlisten *; reset all`` each time: one more round
trip per request). Nothing the service runs leaves session state behind: its statements
are single reads, the migrations' advisory lock is released in a ``finally`` (and a pool
whose migration failed is terminated), and their ``set local`` ends with the transaction.
asyncpg still rolls back a transaction left open.

Example::

    db = Database("postgresql://postgres@127.0.0.1:5432/zjcredit")
    rows = await db.fetch("select uscc from credit.enterprise limit $1", 5)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg

from query.errors import DatabaseBusy, DatabaseUnavailable, QueryTimeout
from readmodel.errors import SchemaVersionError
from readmodel.migrate import check, migrate

__all__ = [
    "ACCESS_MIGRATIONS",
    "ACCESS_SCHEMA",
    "UNAVAILABLE",
    "Database",
    "check_all",
    "migrate_all",
]

ACCESS_SCHEMA = "access"
ACCESS_MIGRATIONS = Path(__file__).with_name("migrations")

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing"
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.UndefinedTableError,
    asyncpg.exceptions.InvalidSchemaNameError,
)


async def migrate_all(conn: asyncpg.Connection, *, read_model: bool = True) -> list[str]:
    """Apply the read model's migrations (unless ``read_model`` is False) and the API keys'."""
    applied = await migrate(conn) if read_model else []
    return applied + await migrate(conn, folder=ACCESS_MIGRATIONS, schema=ACCESS_SCHEMA)


async def check_all(conn: asyncpg.Connection) -> None:
    """SchemaVersionError unless the read model's and the API keys' migrations are applied."""
    await check(conn)
    await check(conn, folder=ACCESS_MIGRATIONS, schema=ACCESS_SCHEMA)


class Database:
    """A lazily made pool over ``url``.

    Args:
        url: ``postgresql://...`` of the read model.
        max_size: connections at most (default 8: a 2-core server gains nothing from more).
        timeout: seconds to connect, and to wait for a pooled connection (default 5).
        statement_timeout: seconds a statement may run on the server before PostgreSQL
            cancels it (default 2; ``ZJCREDIT_QUERY_TIMEOUT``). The client gives up
            ``timeout`` seconds after that, should the server not answer at all.
        check_schema: check on the first connection that the migrations are applied
            (default True).
        on_state: told True after each successful use of PostgreSQL, False after a failure
            (the service's ``zjcredit_query_database_up``).
    """

    def __init__(self, url: str, *, max_size: int = 8, timeout: float = 5.0,
                 statement_timeout: float = 2.0, check_schema: bool = True,
                 on_state: Callable[[bool], None] = lambda up: None) -> None:  # fmt: skip
        self.url = url
        self.on_state = on_state
        self.max_size = max_size
        self.timeout = timeout
        self.statement_timeout = statement_timeout
        self.check_schema = check_schema
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                try:
                    # min_size=0: no connection floor for asyncpg to restore (and log a
                    # traceback about) every moment PostgreSQL is down.
                    pool = await asyncpg.create_pool(
                        self.url, min_size=0, max_size=self.max_size, timeout=self.timeout,
                        command_timeout=self.statement_timeout + self.timeout, reset=_keep,
                        server_settings={"statement_timeout": _ms(self.statement_timeout)},
                    )  # fmt: skip
                    if self.check_schema:
                        try:
                            async with pool.acquire() as conn:
                                await check_all(conn)
                        except BaseException:
                            pool.terminate()
                            raise
                except UNAVAILABLE as error:
                    self.on_state(False)
                    raise _unavailable(error) from None
                except SchemaVersionError as error:
                    self.on_state(False)
                    raise DatabaseUnavailable(str(error)) from None
                self._pool = pool
        return self._pool

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; DatabaseUnavailable if PostgreSQL fails us meanwhile."""
        pool = await self.pool()
        try:
            conn = await self._acquire(pool)
            try:
                yield conn
            finally:
                await pool.release(conn)
        except asyncpg.QueryCanceledError:
            raise self._timed_out() from None
        except UNAVAILABLE as error:
            self.on_state(False)
            raise _unavailable(error) from None
        self.on_state(True)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self.connection() as conn:
            return await conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        # The profile's lookup: spelled out, without connection()'s generator, as it runs
        # on every request.
        pool = self._pool if self._pool is not None else await self.pool()
        try:
            conn = await self._acquire(pool)
            try:
                value = await conn.fetchval(sql, *args)
            finally:
                await pool.release(conn)
        except asyncpg.QueryCanceledError:
            raise self._timed_out() from None
        except UNAVAILABLE as error:
            self.on_state(False)
            raise _unavailable(error) from None
        self.on_state(True)
        return value

    async def _acquire(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        """A connection of ``pool``; DatabaseBusy if every one stayed in use ``timeout``
        seconds (PostgreSQL is answering them: not a database down)."""
        try:
            conn: asyncpg.Connection = await pool.acquire(timeout=self.timeout)
        except TimeoutError:
            if pool.get_size() >= self.max_size and pool.get_idle_size() == 0:
                raise DatabaseBusy(
                    f"all {self.max_size} database connections stayed busy for"
                    f" {self.timeout:g} s; try again later"
                ) from None
            raise  # connecting timed out: the caller's unavailable
        return conn

    async def slow(self, sql: str, *args: Any, seconds: float) -> asyncpg.Record | None:
        """``fetchrow`` with a statement timeout of ``seconds`` instead of the pool's, for
        a statement the service runs seldom and on purpose (not per request)."""
        async with self.connection() as conn, conn.transaction(readonly=True):
            # set_config(..., true) is `set local`: it ends with the transaction.
            await conn.execute("select set_config('statement_timeout', $1, true)", _ms(seconds))
            return await conn.fetchrow(sql, *args, timeout=seconds + self.timeout)

    def _timed_out(self) -> QueryTimeout:
        self.on_state(True)  # PostgreSQL answered: it is up, the statement was too costly
        return QueryTimeout(
            "the query ran past the service's time limit and was cancelled; narrow it"
            " (a longer search text, a filter, an earlier page) or try again later"
        )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(*UNAVAILABLE):
                await asyncio.wait_for(pool.close(), self.timeout)


def _ms(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


async def _keep(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing to undo (see the module docstring)."""


def _unavailable(error: BaseException) -> DatabaseUnavailable:
    if isinstance(error, asyncpg.exceptions.UndefinedTableError | asyncpg.InvalidSchemaNameError):
        return DatabaseUnavailable("the read model is not there yet (not migrated, or rebuilding)")
    # The class name only: a connection error's text can carry host names and users.
    return DatabaseUnavailable(f"PostgreSQL is unavailable ({type(error).__name__})")
