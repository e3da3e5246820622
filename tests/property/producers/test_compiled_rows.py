"""A compiled row parser (producers/compiled.py) is the general loop, verdict for verdict.

Hypothesis takes the example files' rows and rewrites some cells with what departments'
exports really hold and what they should not (blanks, padding, other date and amount
spellings, lower-case and Chinese enum values, Z times, numbers from JSON, lists), renames
columns to their Chinese names (sometimes both spellings of one field), drops and
reorders columns; ``RowParser.parse`` (compiled for the row's keys) must give the same
event, in the same key order with the same id, or the same rejection (field, reason and
message) as ``RowParser.parse_by_name``, for an open parser and a department's.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.rows import RowParser, RowRejected
from schemas.events import SOURCES
from schemas.headers import ALIASES
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

EXAMPLES = Path(__file__).parents[3] / "examples"
NOW = dt.datetime(2019, 5, 1, tzinfo=dt.UTC)
registry = ManifestRegistry.load()
catalog = load_catalog()

_HOSTILE = [
    "", " ", "\u3000", "  x  ", "a", "A", "granted", "Granted", " TAX_PAID ", "发明", "外观设计 ",
    "2017-04-20", " 2017-04-20 ", "2017/04/20", "20170420", "2017-13-45", "2017-04-20Z",
    "2017-04-20T09:30:00Z", "2017-04-20T09:30:00+08:00", "2017-04-20 09:30", "2117-01-01",
    "1,234.50", "1234.5", "1234.567", "-0", "-1", "12,34", "1e3", "NaN", "١٢٣.٤٥",
    "12345678901234567890123.45", "99999999999999999999999999999.99", "0", "1", "46",
    "true", "否", "是", "Y", "maybe", "1_000", "²", "91330100716105852f ", "ZL 201310699744.2",
    "2c1d7e3f-9a4b-5c6d-8e7f-0a1b2c3d4e5f", "not-a-uuid", "SAT", "SAMR", "CNIPA", "\x00",
    7, 0, -1, 2016, 95.5, 2.0, True, False, None, ["a"], {"a": 1},
]  # fmt: skip
_CELLS = st.one_of(
    st.sampled_from(_HOSTILE),
    st.text(max_size=12),
    st.integers(-5, 3000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


def _spellings(value: str) -> list[str]:
    """Other spellings of a cell's value: most still valid, some one step off."""
    date = value[:10]
    return [
        " " + value + " ", "\u3000" + value, value.lower(), value.upper(), value.title(),
        date.replace("-", "/"), date.replace("-", ""), date, value.replace("+08:00", "Z"),
        value.replace("+08:00", ""), value.replace("T", " ")[:16], value + "0", value[:-1],
        value[:-3], value.replace(".", ""), f"{value[:1]},{value[1:]}", "-" + value,
    ]  # fmt: skip


def _rows(source: str) -> list[dict[str, str]]:
    with (EXAMPLES / f"{source}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _event_type(row: dict[str, str]) -> str:
    return row.get("event_type") or row["事件类型"]  # the patent example has Chinese headers


_EXAMPLES = {source: _rows(source) for source in SOURCES}
# One example row of each source and event type.
_TYPICAL = {
    source: list({_event_type(row): row for row in _EXAMPLES[source]}.values())
    for source in SOURCES
}
_CHINESE = {source: {field: name for name, field in ALIASES[source].items()} for source in SOURCES}


def _respell(value: str) -> st.SearchStrategy[Any]:
    return st.integers(0, 3).flatmap(
        lambda n: _CELLS if n == 0 else st.sampled_from(_spellings(value))
    )


@st.composite
def hostile_row(draw: st.DrawFn, source: str) -> dict[str, Any]:
    row: dict[str, Any] = dict(draw(st.sampled_from(_EXAMPLES[source])))
    names = list(row)
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        row[name] = draw(_respell(row[name]))
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        chinese = _CHINESE[source].get(name)
        if chinese is None:
            continue
        if draw(st.booleans()):
            row[chinese] = row.pop(name)  # the department's name instead
        else:
            row[chinese] = draw(_respell(str(row[name])))  # both: the later non-blank counts
    if draw(st.booleans()):
        del row[draw(st.sampled_from(list(row)))]
    if draw(st.booleans()):
        row["备注"] = draw(_CELLS)  # a column no field reads
    order = draw(st.permutations(list(row)))
    return {name: row[name] for name in order}


def _verdict(parse: Any, row: dict[str, Any]) -> Any:
    try:
        event = parse(row, NOW)
    except RowRejected as rejected:
        return ("rejected", rejected.field, rejected.reason, rejected.message)
    return list(event.items())


@pytest.mark.parametrize("source", SOURCES)
def test_every_cell_respelled_gives_the_general_loops_verdict(source: str) -> None:
    parser = RowParser(source, registry.latest(source), catalog)
    for row in _TYPICAL[source]:
        for name in row:
            for cell in [*_spellings(row[name]), *_HOSTILE]:
                changed = {**row, name: cell}
                assert _verdict(parser.parse, changed) == _verdict(parser.parse_by_name, changed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), source=st.sampled_from(SOURCES), department=st.sampled_from([None, "SAT"]))
def test_the_compiled_parser_gives_the_general_loops_verdict(
    data: st.DataObject, source: str, department: str | None
) -> None:
    parser = RowParser(source, registry.latest(source), catalog, department)
    for _ in range(3):  # the second row of a header runs its compiled parser from the cache
        row = data.draw(hostile_row(source))
        assert _verdict(parser.parse, row) == _verdict(parser.parse_by_name, row), row


def test_past_the_compiled_limit_rows_go_through_the_general_loop() -> None:
    parser = RowParser("tax", registry.latest("tax"), catalog)
    row = _EXAMPLES["tax"][0]
    for extra in range(80):  # 80 key orders: 64 compiled, the rest by name
        varied = {**row, f"extra{extra}": ""}
        assert parser.parse(varied, NOW) == parser.parse_by_name(varied, NOW)
    assert len(parser._compiled) == 64  # the cache's bound is the point
