"""The access audit: every read by a key of data the public does not see, kept.

A bank's, a department's or an admin's answered read of an enterprise (its profile, with
the tax amounts and credit line; its event history; each profile a bulk lookup found) is
recorded as ``(time, key id, role, route, credit code)`` in ``access.audit``: outside the
read model, so a rebuild keeps it. An ASGI layer outside the fast path sees every GET: it
records after a 2xx answer, so a 404, a 304 or a 401 is not a read; the bulk lookup
records its own (:meth:`AuditLog.record_many`), one row per profile found. Records are
buffered and written every second in one statement (a hot route pays a list append, not
a round trip); a crash loses at most the last second's. Rows older than the retention
are deleted hourly.

Admins read it at ``GET /v1/audit`` and with ``zjcredit keys audit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg

from query.access import presented_key
from query.db import Database
from query.keys import KeyCache
from query.roles import Role
from schemas.uscc import normalize

__all__ = ["AUDITED", "AuditLayer", "AuditLog", "audit_rows", "key_id_of"]

log = logging.getLogger("zjcredit.query")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# Routes whose answer to a key holds what the public does not see, with their template.
AUDITED = (
    (re.compile(r"^/v1/enterprises/([^/]+)/history$"), "/v1/enterprises/{uscc}/history"),
    (re.compile(r"^/v1/enterprises/([^/]+)$"), "/v1/enterprises/{uscc}"),
)
_INSERT = "insert into access.audit (at, key_id, role, route, uscc) values ($1, $2, $3, $4, $5)"
Row = tuple[dt.datetime, str, str, str, str | None]


def key_id_of(key: str) -> str:
    """The public key id of a key ``zjc_<key id>_<secret>`` (query/keys.py)."""
    parts = key.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "zjc" else "?"


class AuditLog:
    """Buffered writer of audit rows into ``db``; :meth:`run` flushes until cancelled."""

    def __init__(self, db: Database, *, retention_days: int = 365, every: float = 1.0) -> None:
        self.db = db
        self.retention = dt.timedelta(days=retention_days)
        self.every = every
        self.pending: list[Row] = []
        self._pruned = 0.0

    def record(self, key_id: str, role: Role, route: str, uscc: str | None) -> None:
        self.pending.append((dt.datetime.now(dt.UTC), key_id, role.value, route, uscc))

    def record_many(self, key_id: str, role: Role, route: str, codes: list[str]) -> None:
        """One row per enterprise read (a bulk lookup's profiles found)."""
        now = dt.datetime.now(dt.UTC)
        self.pending.extend((now, key_id, role.value, route, code) for code in codes)

    async def flush(self) -> int:
        """Write what is pending (kept for the next try if PostgreSQL fails); rows written."""
        rows, self.pending = self.pending, []
        if not rows:
            return 0
        try:
            async with self.db.connection() as conn:
                await conn.executemany(_INSERT, rows)
                if time.monotonic() - self._pruned > 3600:
                    await conn.execute("delete from access.audit where at < $1",
                                       dt.datetime.now(dt.UTC) - self.retention)  # fmt: skip
                    self._pruned = time.monotonic()
        except Exception as error:  # noqa: BLE001 - kept and retried: the audit loses nothing
            self.pending[:0] = rows
            log.warning("audit: %d row(s) not written yet (%s)", len(rows), type(error).__name__)
            return 0
        return len(rows)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.every)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await self.flush()


class AuditLayer:
    """ASGI: record the audited reads of valid keys after their 2xx answer."""

    def __init__(self, app: App, *, audit: AuditLog, keys: KeyCache) -> None:
        self.app = app
        self.audit = audit
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        match = next(((m, route) for pattern, route in AUDITED if (m := pattern.match(path))), None)
        if match is None:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if 200 <= status < 300:
            self._record(scope, match[0].group(1), match[1])

    def _record(self, scope: Scope, raw_code: str, route: str) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers.get("x-api-key"), headers.get("authorization"))
        if not key:
            return  # the public: nothing hidden was read
        found, role = self.keys.get(key)  # the request just looked it up
        if found and role is not None and role is not Role.PUBLIC:
            code = normalize(raw_code) if len(raw_code) <= 64 else raw_code[:64]
            self.audit.record(key_id_of(key), role, route, code)


async def audit_rows(
    conn: asyncpg.Connection, *, key_id: str | None = None, uscc: str | None = None,
    since: dt.datetime | None = None, limit: int = 1000,
) -> list[dict[str, Any]]:  # fmt: skip
    """Audit rows, newest first, filtered by key id, credit code and time."""
    rows = await conn.fetch(
        "select at, key_id, role, route, uscc from access.audit"
        " where ($1::text is null or key_id = $1) and ($2::text is null or uscc = $2)"
        " and ($3::timestamptz is null or at >= $3) order by at desc limit $4",
        key_id, uscc, since, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
