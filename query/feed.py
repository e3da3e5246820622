"""The change feed's cursor, its items and its Server-Sent Events frames. Pure: no I/O.

A cursor is ``<txid>.<id>`` of the last change a client has (readmodel migration
0003_changes.sql says why both). It is opaque to clients: they send back the ``next`` of
a page, or the ``id:`` of the last event, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from query.errors import InvalidParameter

__all__ = ["KEEP_ALIVE", "START", "Cursor", "change_item", "event_frame", "format_cursor",
           "parse_cursor", "read_events"]  # fmt: skip

Cursor = tuple[int, int]
START: Cursor = (0, 0)
"""Before every change: a client without a cursor reads all that is kept."""
KEEP_ALIVE = b": keep-alive\n\n"
"""An SSE comment: keeps proxies from closing an idle stream; clients ignore it."""
_CURSOR = re.compile(r"^(\d{1,20})\.(\d{1,19})$")


def parse_cursor(raw: str | None, field: str = "since") -> Cursor:
    """The cursor sent (None or empty: :data:`START`); 422 for anything that is not one."""
    if not raw:
        return START
    match = _CURSOR.match(raw.strip())
    if match is None:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidParameter.one(
            field, "cursor", f"{shown!r} is not a cursor: send back the 'next' of a page or "
            "the id of the last event, or nothing to start from the oldest change kept",
        )  # fmt: skip
    txid, change_id = int(match.group(1)), int(match.group(2))
    if txid >= 2**64 or change_id >= 2**63:
        raise InvalidParameter.one(field, "cursor", f"{raw!r} is past any cursor there can be")
    return txid, change_id


def format_cursor(cursor: Cursor) -> str:
    return f"{cursor[0]}.{cursor[1]}"


def change_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A change of the feed (query/models.py ``Change``) from its row (query/changes.py)."""
    return {
        "cursor": format_cursor((int(row["txid"]), row["id"])),
        "uscc": row["uscc"],
        "name": row["name"],
        "kind": row["kind"],
        "before": _json(row["before"]),
        "after": _json(row["after"]),
        "detail": _json(row["detail"]),
        "reported_at": row["reported_at"],
        "changed_at": row["changed_at"],
    }


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text is not None else None  # jsonb, read as its text


def event_frame(item: Mapping[str, Any]) -> bytes:
    """One change as an SSE event: ``id`` is its cursor, so a reconnecting client's
    ``Last-Event-ID`` resumes after it. orjson writes one line (no newline inside)."""
    cursor: str = item["cursor"]
    data = orjson.dumps(item, option=orjson.OPT_UTC_Z)  # times as the JSON routes write them
    return b"id: " + cursor.encode() + b"\nevent: change\ndata: " + data + b"\n\n"


def read_events(lines: Iterable[str]) -> Iterator[tuple[str, str | None, str]]:
    """``(event, id, data)`` of each event in the lines of a stream (the SSE format as
    browsers read it, for ``zjcredit watch``): comments skipped, ``data`` lines joined."""
    event, event_id, data = "message", None, list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, event_id, "\n".join(data)
            event, event_id, data = "message", None, []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "id":
            event_id = value
        elif name == "data":
            data.append(value)
