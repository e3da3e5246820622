"""Gauges counted from the read model itself, refreshed on a timer by ``zjcredit sink``,
and the change feed's retention kept on the same timer.

Why here: the sink already talks to PostgreSQL, and one grouped count every 15 s on the
``listing (sector, in_force, uscc)`` index costs nothing beside its batches. Changes
older than ``CHANGES_KEPT_DAYS`` are deleted about hourly (on ``change (changed_at)``).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from readmodel.migrate import SCHEMA
from schemas.sectors import load_catalog
from sink.metrics import SinkMetrics

__all__ = ["CHANGES_KEPT_DAYS", "REFRESH_EVERY_S", "count_active_listings", "prune_changes",
           "refresh_gauges"]  # fmt: skip

REFRESH_EVERY_S = 15.0
CHANGES_KEPT_DAYS = 90
"""How long GET /v1/changes can look back: a client away longer starts again from the
oldest change kept."""
_PRUNE_EVERY_S = 3600.0
log = logging.getLogger("zjcredit.sink")


async def count_active_listings(conn: asyncpg.Connection) -> dict[str, int]:
    """Listings in force per key sector; every catalog sector is present (0 if none)."""
    counts = dict.fromkeys(load_catalog().sectors, 0)
    rows = await conn.fetch(
        f"select sector, count(*) from {SCHEMA}.listing where in_force group by sector"
    )
    counts.update({sector: int(n) for sector, n in rows})
    return counts


async def prune_changes(conn: asyncpg.Connection, days: int = CHANGES_KEPT_DAYS) -> int:
    """Delete the changes older than ``days``; how many."""
    status = await conn.execute(
        f"delete from {SCHEMA}.change where changed_at < now() - make_interval(days => $1)", days
    )
    return int(status.split()[-1])


async def refresh_gauges(
    database_url: str, metrics: SinkMetrics, every: float = REFRESH_EVERY_S
) -> None:
    """Count and publish until cancelled; a failed round (PostgreSQL down, the read model
    not created yet) leaves the last values and tries again next round."""
    conn: asyncpg.Connection | None = None
    pruned_at = float("-inf")
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(database_url, timeout=10)
                metrics.set_active_listings(await count_active_listings(conn))
                if loop.time() - pruned_at >= _PRUNE_EVERY_S:
                    await prune_changes(conn)
                    pruned_at = loop.time()
            except (TimeoutError, OSError, asyncpg.PostgresError) as error:
                log.debug("gauges not refreshed: %s", error)
                if conn is not None:
                    conn.terminate()
                    conn = None
            await asyncio.sleep(every)
    finally:
        if conn is not None and not conn.is_closed():
            conn.terminate()
