"""Secondary indexes a rebuild builds once after its load, not row by row during it.

A rebuild copies every profile into empty tables. Keeping the secondary indexes (the
name's trigram GIN, city, grade, sectors, the child tables' and the events' lookups)
current row by row costs more than building each once at the end from all the rows. So
before its first batch :func:`defer_indexes` records each one's definition in
``credit.deferred_index`` (readmodel/migrations/0005_deferred_index.sql) and drops it, in
one transaction; after the last batch :func:`build_deferred` builds them again. The
primary keys stay: every write looks rows up by them. The notice and change tables keep
theirs: the sink reads them while it writes (lifting notices), and they are small.

A rebuild stopped or killed in between leaves the records: every ``zjcredit sink``
builds what is recorded when it connects, before its first batch (each index in its own
transaction, so a build cut short is simply done again), and a new rebuild drops the
schema and starts over.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from readmodel.migrate import SCHEMA

__all__ = ["DEFERRED_TABLES", "build_deferred", "defer_indexes"]

DEFERRED_TABLES = ("enterprise", "listing", "penalty_measure", "tax_grade", "trademark", "event")
# The GIN and sort builds are faster with more memory than the server's default 64 MB.
_BUILD_MEMORY = "256MB"

_SECONDARY = """
select i.relname as name, pg_get_indexdef(x.indexrelid) as definition
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_class t on t.oid = x.indrelid
join pg_namespace n on n.oid = t.relnamespace
where n.nspname = $1 and t.relname = any($2::text[])
  and not x.indisprimary and not x.indisunique
order by i.relname
"""


async def defer_indexes(conn: asyncpg.Connection) -> list[str]:
    """Record and drop the secondary indexes of :data:`DEFERRED_TABLES`; their names."""
    async with conn.transaction():
        found = await conn.fetch(_SECONDARY, SCHEMA, list(DEFERRED_TABLES))
        await conn.executemany(
            f"insert into {SCHEMA}.deferred_index (name, definition) values ($1, $2)",
            [(x["name"], x["definition"]) for x in found],
        )
        for x in found:
            await conn.execute(f'drop index {SCHEMA}."{x["name"]}"')
    return [x["name"] for x in found]


async def build_deferred(
    conn: asyncpg.Connection, say: Callable[[str], None] = lambda _: None
) -> list[str]:
    """Build every index recorded in ``credit.deferred_index``; the names built here."""
    names = [x[0] for x in await conn.fetch(f"select name from {SCHEMA}.deferred_index")]
    built = []
    for name in sorted(names):
        async with conn.transaction():
            # A second sink building the same index waits here, then finds it done.
            definition = await conn.fetchval(
                f"select definition from {SCHEMA}.deferred_index where name = $1 for update",
                name,
            )
            if definition is None:
                continue
            say(f"building the index {name} (deferred by a rebuild)")
            await conn.execute(f"set local maintenance_work_mem = '{_BUILD_MEMORY}'")
            await conn.execute(definition)
            await conn.execute(f"delete from {SCHEMA}.deferred_index where name = $1", name)
        built.append(name)
    return built
