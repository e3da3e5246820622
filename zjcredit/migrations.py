"""``zjcredit migrate``: apply the read model's and the query service's migrations.

The one step that needs DDL rights on the database. The demo runs it before its
children; compose runs it once before the sink and the query service; by hand, run it
after every upgrade (the query service answers 503 saying so until it is done).
"""

from __future__ import annotations

import asyncio

from base.errors import StackError
from base.settings import redact_url

__all__ = ["migrate_database"]


def migrate_database(database_url: str) -> list[str]:
    """Apply what is missing; the names applied (empty: the database was up to date)."""
    import asyncpg  # noqa: PLC0415 - keep `zjcredit --help` light

    from query.db import UNAVAILABLE, migrate_all  # noqa: PLC0415

    async def run() -> list[str]:
        conn = await asyncpg.connect(database_url, timeout=10)
        try:
            return await migrate_all(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except UNAVAILABLE as error:
        # The class name only: a connection error's text can carry host names and users.
        raise StackError(
            f"cannot migrate: PostgreSQL at {redact_url(database_url)} is unavailable "
            f"({type(error).__name__})"
        ) from None
