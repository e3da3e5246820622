"""The change feed's cursor and its Server-Sent Events (query/feed.py)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from query.errors import InvalidParameter
from query.feed import START, change_item, event_frame, format_cursor, parse_cursor, read_events
from query.models import Change
from query.watch_command import change_line

AT = dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC)
ROW = {"txid": "7421", "id": 35, "uscc": "91330106MA2B00001X", "name": "杭州某某有限公司",
       "kind": "listed", "before": None, "after": '"court_defaulter"',
       "detail": '{"reason":"失信\\n被执行人"}', "reported_at": AT, "changed_at": AT}  # fmt: skip


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**63 - 1))
def test_a_cursor_reads_back_as_itself(txid: int, change_id: int) -> None:
    assert parse_cursor(format_cursor((txid, change_id))) == (txid, change_id)


@pytest.mark.parametrize("raw", ["abc", "1", "1.", ".1", "-1.2", "1.2.3", "1.2 3", "1e3.2",
                                 f"{2**64}.1", f"1.{2**63}"])  # fmt: skip
def test_anything_else_is_a_422_that_says_what_to_send(raw: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_cursor(raw)
    assert refused.value.details[0]["field"] == "since"
    assert refused.value.details[0]["rule"] == "cursor"


def test_no_cursor_is_the_start() -> None:
    assert parse_cursor(None) == parse_cursor("") == START


def test_a_change_as_an_event_reads_back_through_the_sse_reader() -> None:
    item = change_item(ROW)
    assert item["cursor"] == "7421.35"
    assert item["after"] == "court_defaulter"
    assert item["detail"] == {"reason": "失信\n被执行人"}  # a newline inside stays inside data
    stream = (b"retry: 3000\n\n: keep-alive\n\n" + event_frame(item) + event_frame(item)).decode()
    events = list(read_events(stream.split("\n")))
    assert len(events) == 2
    event, event_id, data = events[0]
    assert (event, event_id) == ("change", "7421.35")
    # The same JSON as GET /v1/changes writes through its model (times with Z).
    assert orjson.loads(data) == Change.model_validate(item).model_dump(mode="json")


def test_a_terminal_line_shows_the_move_and_the_cursor_to_resume_from() -> None:
    item = orjson.loads(orjson.dumps(change_item(ROW)))
    line = change_line(item)
    assert "91330106MA2B00001X  杭州某某有限公司  listed  - → court_defaulter  [7421.35]" in line
    assert change_line({**item, "name": None, "kind": "escalated", "before": None,
                        "after": ["env", "tax"]}).count("env,tax") == 1  # fmt: skip
