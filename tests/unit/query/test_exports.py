"""Exports (query/exports.py) driven as the ASGI server drives them: the CSV's BOM and
header, rows that parse back to the JSON items, JSON Lines, the file name, and the
export's turn given back however the answer ends."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
from collections.abc import AsyncGenerator
from typing import Any

import orjson
import pytest

from query.errors import DatabaseUnavailable
from query.exports import EXPORTS_AT_ONCE, csv_cell, export
from query.models import EnterpriseSummary, ListingItem

_ROWS = [
    {"uscc": "91330100500198455F", "name": "杭州美兴贸易有限公司", "status": "ACTIVE",
     "city_code": "330100", "city": "杭州", "score": 489, "grade": "POOR", "grade_zh": "较差",
     "tax_grade": "B", "listed_sectors": ["court_defaulter", "tax"], "zjtx_level": None},
    {"uscc": "91330200716105852F", "name": '宁波"引号",逗号\n换行', "status": "ACTIVE",
     "city_code": None, "city": None, "score": 700, "grade": "GOOD", "grade_zh": "良好",
     "tax_grade": None, "listed_sectors": [], "zjtx_level": "NATIONAL"},
    {"uscc": "91330300716105852F", "name": "=cmd|' /C calc'!A0", "status": "ACTIVE",
     "city_code": None, "city": None, "score": 1, "grade": "POOR", "grade_zh": "较差",
     "tax_grade": None, "listed_sectors": [], "zjtx_level": None},
]  # fmt: skip


def _chunks(rows: list[dict[str, Any]], *, fail_after: int | None = None) -> Any:
    async def gen() -> AsyncGenerator[list[dict[str, Any]], None]:
        for n, row in enumerate(rows):
            if fail_after is not None and n >= fail_after:
                raise ConnectionResetError("the database went away")
            yield [row]

    return gen


async def _send_all(response: Any, *, stop_after: int | None = None) -> tuple[dict, bytes]:
    """Drive the response as uvicorn does; ``stop_after`` body messages, then the client
    is gone (its send raises OSError)."""
    start: dict[str, Any] = {}
    body = bytearray()
    sent = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if stop_after is not None and sent >= stop_after:
            raise OSError("client gone")
        sent += 1
        body.extend(message.get("body", b""))

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
    # A client gone, a database gone mid-stream: the server's business (it logs them).
    with contextlib.suppress(Exception):
        await response(scope, receive, send)
    return start, bytes(body)


def test_a_cell_is_the_json_value_as_text_never_a_formula() -> None:
    assert [csv_cell(v) for v in (None, True, False, 3, "x", ["a", "b"], [])] == [
        "", "true", "false", "3", "x", "a;b", "",
    ]  # fmt: skip
    # A text a spreadsheet would run as a formula is kept as text.
    assert [csv_cell(v) for v in ("=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx", "a=b", -1)] == [
        "'=HYPERLINK(1)", "'+1", "'-1", "'@SUM(A1)", "'\tx", "a=b", "-1",
    ]  # fmt: skip


async def test_csv_has_a_bom_and_parses_back_to_the_items() -> None:
    slots = asyncio.Semaphore(EXPORTS_AT_ONCE)
    response = await export(slots, "enterprises", "csv", EnterpriseSummary, _chunks(_ROWS))
    start, body = await _send_all(response)

    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="zjcredit-enterprises-\d{8}\.csv"',
                        headers["content-disposition"])  # fmt: skip
    assert body.startswith(b"\xef\xbb\xbfuscc,name,status,")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    want = [EnterpriseSummary.model_validate(r).model_dump(mode="json") for r in _ROWS]
    assert rows == [{k: csv_cell(v) for k, v in item.items()} for item in want]
    assert rows[1]["name"] == '宁波"引号",逗号\n换行'
    assert rows[2]["name"] == "'=cmd|' /C calc'!A0"
    assert slots._value == EXPORTS_AT_ONCE  # the turn is given back


async def test_json_lines_are_the_items() -> None:
    slots = asyncio.Semaphore(EXPORTS_AT_ONCE)
    response = await export(slots, "enterprises", "jsonl", EnterpriseSummary, _chunks(_ROWS))
    start, body = await _send_all(response)
    assert dict(start["headers"])[b"content-type"] == b"application/x-ndjson"
    lines = body.decode().splitlines()
    assert [orjson.loads(x) for x in lines] == [
        orjson.loads(EnterpriseSummary.model_validate(r).model_dump_json()) for r in _ROWS
    ]
    empty = await export(slots, "blacklist", "csv", ListingItem, _chunks([]))
    _, head = await _send_all(empty)
    assert head.decode("utf-8-sig").startswith("uscc,name,city_code,city,sector,")
    assert head.count(b"\r\n") == 1


async def test_the_turn_is_given_back_however_the_answer_ends() -> None:
    slots = asyncio.Semaphore(EXPORTS_AT_ONCE)
    # a client gone mid-stream, a database gone mid-stream
    await _send_all(await export(slots, "x", "csv", EnterpriseSummary, _chunks(_ROWS * 5)),
                    stop_after=2)  # fmt: skip
    await _send_all(await export(slots, "x", "csv", EnterpriseSummary,
                                 _chunks(_ROWS * 5, fail_after=3)))  # fmt: skip
    assert slots._value == EXPORTS_AT_ONCE
    # a database down before the first row: the error itself, and the turn given back
    with pytest.raises(ConnectionResetError):
        await export(slots, "x", "csv", EnterpriseSummary, _chunks(_ROWS, fail_after=0))
    assert slots._value == EXPORTS_AT_ONCE


async def test_an_export_beyond_the_turns_waits_then_is_503(monkeypatch: Any) -> None:
    monkeypatch.setattr("query.exports.EXPORT_WAIT", 0.05)
    slots = asyncio.Semaphore(1)
    held = await export(slots, "x", "jsonl", EnterpriseSummary, _chunks(_ROWS))
    with pytest.raises(DatabaseUnavailable) as busy:
        await export(slots, "x", "jsonl", EnterpriseSummary, _chunks(_ROWS))
    assert busy.value.error == "exports_busy"
    assert busy.value.headers() == {"Retry-After": "5"}
    await _send_all(held)
    assert slots._value == 1
