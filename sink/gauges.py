"""Gauges counted from the read model itself, refreshed on a timer by ``zjcredit sink``.

Why here: the sink already talks to PostgreSQL, and one grouped count every 15 s on the
``listing (sector, in_force, uscc)`` index costs nothing beside its batches.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from readmodel.migrate import SCHEMA
from schemas.sectors import load_catalog
from sink.metrics import SinkMetrics

__all__ = ["REFRESH_EVERY_S", "count_active_listings", "refresh_gauges"]

REFRESH_EVERY_S = 15.0
log = logging.getLogger("zjcredit.sink")


async def count_active_listings(conn: asyncpg.Connection) -> dict[str, int]:
    """Listings in force per key sector; every catalog sector is present (0 if none)."""
    counts = dict.fromkeys(load_catalog().sectors, 0)
    rows = await conn.fetch(
        f"select sector, count(*) from {SCHEMA}.listing where in_force group by sector"
    )
    counts.update({sector: int(n) for sector, n in rows})
    return counts


async def refresh_gauges(
    database_url: str, metrics: SinkMetrics, every: float = REFRESH_EVERY_S
) -> None:
    """Count and publish until cancelled; a failed round (PostgreSQL down, the read model
    not created yet) leaves the last values and tries again next round."""
    conn: asyncpg.Connection | None = None
    try:
        while True:
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(database_url, timeout=10)
                metrics.set_active_listings(await count_active_listings(conn))
            except (TimeoutError, OSError, asyncpg.PostgresError) as error:
                log.debug("gauges not refreshed: %s", error)
                if conn is not None:
                    conn.terminate()
                    conn = None
            await asyncio.sleep(every)
    finally:
        if conn is not None and not conn.is_closed():
            conn.terminate()
