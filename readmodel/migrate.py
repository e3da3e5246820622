"""Plain SQL migrations (``readmodel/migrations/NNNN_name.sql``), applied in order.

``zjcredit migrate`` applies them (and the demo, and the sink on its start: it owns the
writes); a reader that must not need DDL rights (the query service) only checks, with
:func:`check`, that every migration it knows is applied.

Each file runs in its own transaction together with its row in ``credit.schema_migration``,
so a migration is applied entirely or not at all. A session advisory lock serialises
runners: two processes starting at once (two sinks, a sink and the query service) apply
each migration once, and running again applies nothing. The read model lives in the
schema ``credit``; :func:`drop` removes it whole (``zjcredit sink rebuild``).

The query service keeps its own tables (API keys) in another schema with another
folder of migrations, applied by the same code (``folder=``, ``schema=``), so that
``drop`` (a rebuild of the read model) never touches them.

Example::

    applied = await migrate(conn)       # ["0001_read_model", ...] the first time, then []
    await check(conn)                   # SchemaVersionError unless all are applied
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from readmodel.errors import MigrationError, SchemaVersionError

__all__ = ["MIGRATIONS", "SCHEMA", "check", "drop", "migrate", "pending"]

MIGRATIONS = Path(__file__).with_name("migrations")
SCHEMA = "credit"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x7A6A_6372  # "zjcr": one advisory lock for every migration runner


def _files(folder: Path = MIGRATIONS) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migrations are named NNNN_lower_snake.sql")
        found.append((int(match.group(1)), path))
    versions = [v for v, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


async def pending(
    conn: asyncpg.Connection, *, folder: Path = MIGRATIONS, schema: str = SCHEMA
) -> list[str]:
    """Names of the migrations not yet applied."""
    exists = await conn.fetchval("select to_regclass($1) is not null", f"{schema}.schema_migration")
    applied = set()
    if exists:
        applied = {r[0] for r in await conn.fetch(f"select version from {schema}.schema_migration")}
    return [p.stem for v, p in _files(folder) if v not in applied]


async def check(
    conn: asyncpg.Connection, *, folder: Path = MIGRATIONS, schema: str = SCHEMA
) -> None:
    """Raise SchemaVersionError unless every migration of ``folder`` is applied to
    ``schema`` (reads only: a newer database, with migrations this code does not know
    yet, passes: they are additive)."""
    missing = await pending(conn, folder=folder, schema=schema)
    if missing:
        raise SchemaVersionError(schema, missing)


async def migrate(
    conn: asyncpg.Connection, *, folder: Path = MIGRATIONS, schema: str = SCHEMA
) -> list[str]:
    """Apply the missing migrations of ``folder`` to ``schema``, in order; return the
    names applied by this call."""
    applied: list[str] = []
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            f"create schema if not exists {schema};"
            f"create table if not exists {schema}.schema_migration ("
            " version integer primary key, name text not null,"
            " applied_at timestamptz not null default now())"
        )
        done = {r[0] for r in await conn.fetch(f"select version from {schema}.schema_migration")}
        for version, path in _files(folder):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(f"set local search_path = {schema}, public")
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute(
                    f"insert into {schema}.schema_migration (version, name) values ($1, $2)",
                    version,
                    path.stem,
                )
            applied.append(path.stem)
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
    return applied


async def drop(conn: asyncpg.Connection) -> None:
    """Remove the whole read model (tables, stored offsets, migration records)."""
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(f"drop schema if exists {SCHEMA} cascade")
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
