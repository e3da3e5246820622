"""Exports: a list route's every row as CSV or JSON Lines, streamed.

``GET /v1/blacklist``, ``/v1/penalties`` and ``/v1/enterprises`` take ``format=csv`` or
``format=jsonl`` (default ``json``: the page). An export has the route's filters, role
rules and order, every matching row (``page`` and ``size`` do not apply; a search's
count cap neither; more than ``ZJCREDIT_EXPORT_ROWS`` is a 422 before any row, counted
by query/reads.py in the export's snapshot), each row the JSON page's item:

- JSON Lines (``application/x-ndjson``): one item a line, the JSON of the route's model;
- CSV (``text/csv; charset=utf-8``): a UTF-8 BOM (so that Excel reads the Chinese right),
  a header of the model's field names, then a row per item, ``\\r\\n`` after each
  (RFC 4180): null is empty, true/false as in JSON, a list joined by ``;``, a text
  starting as a formula would (``=+-@``, tab, CR) after a ``'`` (:func:`csv_cell`).

Both are ``Content-Disposition: attachment; filename="zjcredit-<route>-<UTC date>.<ext>"``.
The rows come from a server-side cursor (query/reads.py ``all_*``), a chunk at a time,
so memory does not grow with the export; an export holds a database connection while it
streams, so at most :data:`EXPORTS_AT_ONCE` run at a time and one more waits up to
:data:`EXPORT_WAIT` seconds for its turn, then is a 503 (``exports_busy``,
``Retry-After``). The first chunk is read before the answer starts, so a database that
is down is the usual 503; a failure after that can only cut the stream short.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query
from pydantic import BaseModel
from starlette.responses import StreamingResponse

from query.errors import DatabaseUnavailable

__all__ = [
    "EXPORTS_AT_ONCE",
    "EXPORT_RESPONSES",
    "EXPORT_WAIT",
    "Format",
    "FormatParam",
    "csv_cell",
    "export",
]

EXPORTS_AT_ONCE = 2
"""Exports streaming at once per service (of the pool's 8 connections)."""
EXPORT_WAIT = 5.0
"""Seconds an export waits for its turn before its 503."""

Format = Literal["json", "csv", "jsonl"]
FormatParam = Annotated[
    Format,
    Query(alias="format",
          description="json: this page; csv or jsonl: every match, streamed (docs/query.md)"),
]  # fmt: skip
_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_BOM = "\ufeff".encode()
_FORMULA = ("=", "+", "-", "@", "\t", "\r")

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the page (format=json), or every match as CSV or JSON Lines",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
    503: {"description": "PostgreSQL is unavailable, or too many exports are running"},
}

Chunks = AsyncGenerator[list[dict[str, Any]], None]


def csv_cell(value: Any) -> str:
    """A JSON value as a CSV cell: null empty, booleans as JSON, lists joined by ``;``; a
    text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab or CR
    first) gets a ``'`` in front (OWASP's CSV injection advice): the texts come from
    departments' systems, the files go to bank desks' Excel."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(csv_cell(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return str(value)


async def export(slots: asyncio.Semaphore, name: str, fmt: Format, model: type[BaseModel],
                 chunks: Callable[[], Chunks]) -> StreamingResponse:  # fmt: skip
    """The streamed answer of ``format=fmt`` (csv or jsonl) for the rows of ``chunks()``,
    each validated and dumped as ``model``; ``name`` names the file. It holds one of the
    ``slots`` from now until it has been sent (or the client has gone)."""
    assert fmt in _MEDIA
    try:
        await asyncio.wait_for(slots.acquire(), EXPORT_WAIT)
    except TimeoutError:
        raise DatabaseUnavailable(
            f"{EXPORTS_AT_ONCE} exports are running already; retry in a few seconds",
            error="exports_busy",
        ) from None
    rows = chunks()
    try:
        first: list[dict[str, Any]] = await anext(rows, [])
    except BaseException:
        await rows.aclose()
        slots.release()
        raise
    body = _body(rows, first, _csv(model) if fmt == "csv" else _jsonl(model))

    async def release() -> None:
        try:
            await body.aclose()
            await rows.aclose()  # ends the cursor's transaction, gives the connection back
        finally:
            slots.release()

    day = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    headers = {"Content-Disposition": f'attachment; filename="zjcredit-{name}-{day}.{fmt}"'}
    return _Export(body, release, media_type=_MEDIA[fmt], headers=headers)


class _Export(StreamingResponse):
    """A streamed answer that runs ``release`` once it is over, however it ends."""

    def __init__(self, body: AsyncIterator[bytes], release: Callable[[], Awaitable[None]],
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(body, **kwargs)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._release()


Encode = Callable[[list[dict[str, Any]] | None], bytes]


async def _body(rows: Chunks, first: list[dict[str, Any]],
                encode: Encode) -> AsyncGenerator[bytes, None]:  # fmt: skip
    yield encode(None)  # the head: the CSV's BOM and header, nothing for JSON Lines
    if first:
        yield encode(first)
    async for chunk in rows:
        yield encode(chunk)


def _items(model: type[BaseModel], chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [model.model_validate(r).model_dump(mode="json", by_alias=True) for r in chunk]


def _jsonl(model: type[BaseModel]) -> Encode:
    def encode(chunk: list[dict[str, Any]] | None) -> bytes:
        if chunk is None:
            return b""
        return b"".join(orjson.dumps(item) + b"\n" for item in _items(model, chunk))

    return encode


def _csv(model: type[BaseModel]) -> Encode:
    columns = [f.alias or name for name, f in model.model_fields.items()]

    def encode(chunk: list[dict[str, Any]] | None) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if chunk is None:
            writer.writerow(columns)
            return _BOM + out.getvalue().encode()
        writer.writerows([csv_cell(item[c]) for c in columns] for item in _items(model, chunk))
        return out.getvalue().encode()

    return encode
