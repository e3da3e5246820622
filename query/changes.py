"""``GET /v1/changes``: what changed for the key's watched enterprises, in order, resumable
by cursor; ``GET /v1/changes/stream``: the same as Server-Sent Events, live.

The sink writes the changes (sink/changes.py) in the transaction of the rows they come
from and notifies ``zjcredit_changes`` at commit. A stream waits on that notification
(:class:`ChangeSignal`, one LISTEN connection per process, not one per client) and reads
the next page with a pooled connection for a moment only; it also reads every
``POLL_SECONDS`` whatever happens, so a lost notification or a dropped LISTEN
connection delays a change by that much at worst, never loses it. A page only holds
changes no running transaction can still precede (readmodel migration 0003 says why), so
a cursor never skips one.

Each change answered to a key is a read of that enterprise (``credit_line_refused``
is not public): recorded in the access audit like a profile read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from query.access import Holder
from query.errors import QueryError
from query.feed import KEEP_ALIVE, Cursor, change_item, event_frame, format_cursor, parse_cursor
from query.keys import KeyHolder
from query.models import ChangePage
from query.routes import ERRORS, json_response
from query.services import services_of
from readmodel.rows import CHANGES_CHANNEL

__all__ = ["CHANGES_ROUTE", "PAGE_SQL", "POLL_SECONDS", "ChangeSignal", "router"]

log = logging.getLogger("zjcredit.query")

CHANGES_ROUTE = "/v1/changes"
POLL_SECONDS = 1.0
"""A stream reads this often even without a notification."""
KEEP_ALIVE_SECONDS = 15.0
_PAGE_MAX = 1000
_STREAM_PAGE = 500

PAGE_SQL = """
select c.txid::text as txid, c.id, c.uscc, e.name, c.kind, c.before::text as before,
       c.after::text as after, c.detail::text as detail, c.reported_at, c.changed_at
from credit.change c
join access.watchlist w on w.key_id = $1 and w.uscc = c.uscc
left join credit.enterprise e on e.uscc = c.uscc
where (c.txid, c.id) > ($2::text::xid8, $3::bigint)
  and c.txid < pg_snapshot_xmin(pg_current_snapshot())
order by c.txid, c.id
limit $4
"""

router = APIRouter(prefix=CHANGES_ROUTE, tags=["watchlist"],
                   responses={k: v for k, v in ERRORS.items() if k != 404})  # fmt: skip

Since = Annotated[
    str | None,
    Query(description="the cursor of the last change you have (a page's next, an event's "
          "id); none: from the oldest change kept", max_length=64),
]  # fmt: skip


class ChangeSignal:
    """Wakes every waiting stream when the sink commits changes: one ``LISTEN`` connection
    per process, made on the first stream and remade (every few seconds) when lost."""

    RECONNECT_SECONDS = 3.0

    def __init__(self, url: str) -> None:
        self.url = url
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen())

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, seconds: float) -> None:
        """Until the next notification, or ``seconds``."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    async def _listen(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self.url, timeout=5)
                try:
                    lost = asyncio.Event()
                    conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                    await conn.add_listener(CHANGES_CHANNEL, lambda *_: self.fire())
                    self.fire()  # changes may have come while nobody listened
                    await lost.wait()
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as e:
                log.warning("the change feed's LISTEN connection failed (%s); streams poll "
                            "every %.0f s meanwhile", type(e).__name__, POLL_SECONDS)  # fmt: skip
            await asyncio.sleep(self.RECONNECT_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class _Feed:
    """One key's changes: its pages, audited as they are answered, and its live events."""

    def __init__(self, request: Request, holder: KeyHolder) -> None:
        self.services = services_of(request)
        self.audit = request.app.state.audit
        self.holder = holder

    async def page(self, since: Cursor, limit: int) -> list[dict[str, Any]]:
        rows = await self.services.db.fetch(PAGE_SQL, self.holder.key_id, str(since[0]), since[1],
                                            limit)  # fmt: skip
        return [change_item(row) for row in rows]

    def answered(self, items: list[dict[str, Any]]) -> None:
        codes = sorted({item["uscc"] for item in items})
        if codes:
            self.audit.record_many(self.holder.key_id, self.holder.role, CHANGES_ROUTE, codes)

    async def events(self, signal: ChangeSignal, cursor: Cursor,
                     first: list[dict[str, Any]]) -> AsyncIterator[bytes]:  # fmt: skip
        with self.services.metrics.change_streams.track_inprogress():
            async for chunk in self._events(signal, cursor, first):
                yield chunk

    async def _events(self, signal: ChangeSignal, cursor: Cursor,
                      first: list[dict[str, Any]]) -> AsyncIterator[bytes]:  # fmt: skip
        yield b"retry: 3000\n\n"  # how long a browser waits before it reconnects
        items, quiet_since = first, time.monotonic()
        while True:
            if items:
                self.answered(items)
                yield b"".join(event_frame(item) for item in items)
                cursor = parse_cursor(items[-1]["cursor"])
                quiet_since = time.monotonic()
            if len(items) < _STREAM_PAGE:
                await signal.wait(POLL_SECONDS)
            if time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
                yield KEEP_ALIVE
                quiet_since = time.monotonic()
            try:
                items = await self.page(cursor, _STREAM_PAGE)
            except QueryError as error:  # PostgreSQL went away: say so; the client reconnects
                yield b"event: error\ndata: " + error.message.encode() + b"\n\n"
                return


@router.get("", response_model=ChangePage, summary="What changed for the watched firms")
async def changes(request: Request, holder: Holder, since: Since = None,
                  limit: Annotated[int, Query(ge=1, le=_PAGE_MAX)] = 100) -> Response:  # fmt: skip
    cursor = parse_cursor(since)
    feed = _Feed(request, holder)
    items = await feed.page(cursor, limit)
    feed.answered(items)
    following = items[-1]["cursor"] if items else format_cursor(cursor)
    answer = json_response(ChangePage.model_validate({"items": items, "next": following}))
    answer.headers["cache-control"] = "no-store"
    return answer


@router.get(
    "/stream",
    summary="The same changes, live (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`event: change`, `id: <cursor>`, `data: <Change JSON>`"}},
)  # fmt: skip
async def stream(
    request: Request,
    holder: Holder,
    since: Since = None,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    # A reconnecting browser sends Last-Event-ID: it wins over the since= it first used.
    cursor = parse_cursor(last_event_id or since, "Last-Event-ID" if last_event_id else "since")
    signal: ChangeSignal = request.app.state.change_signal
    signal.start()
    feed = _Feed(request, holder)
    first = await feed.page(cursor, _STREAM_PAGE)  # a 503 here, not in the middle of a stream
    return StreamingResponse(
        feed.events(signal, cursor, first),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
