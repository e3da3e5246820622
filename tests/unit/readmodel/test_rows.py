"""readmodel/rows.py: the row layout is the tables' (readmodel/migrations), pure."""

from __future__ import annotations

import re

import orjson
import pytest

from readmodel import rows as r
from readmodel.migrate import MIGRATIONS
from tests.samples import SAMPLES

_DDL = "\n".join(p.read_text("utf-8") for p in sorted(MIGRATIONS.glob("*.sql")))
# committed_at is the server's clock (a column default): written by no row.
_SERVER_SIDE = {"committed_at"}


def _columns(table: str) -> tuple[str, ...]:
    body = re.search(rf"create table {table} \((.*?)\n\);", _DDL, re.S)
    assert body is not None, table
    names = []
    for line in body.group(1).splitlines():
        word = line.strip().split(" ", 1)[0]
        if word and word not in ("primary", "unique", "foreign", "check", "--", "constraint"):
            names.append(word.strip('"'))
    return tuple(n for n in names if n not in _SERVER_SIDE)


@pytest.mark.parametrize(
    ("table", "layout"),
    [("enterprise", r.ENTERPRISE), ("listing", r.LISTING), ("penalty_measure", r.PENALTY_MEASURE),
     ("tax_grade", r.TAX_GRADE), ("trademark", r.TRADEMARK), ("notice", r.NOTICE),
     ("notice_measure", r.NOTICE_MEASURE), ("event", r.EVENT)],
)  # fmt: skip
def test_each_layout_is_its_tables_columns_in_order(table: str, layout: tuple[str, ...]) -> None:
    assert _columns(table) == layout


def test_a_profiles_rows_are_as_wide_as_their_tables() -> None:
    rows = r.profile_rows(SAMPLES["profiles"])
    assert len(rows.enterprise) == len(r.ENTERPRISE)
    for got, layout in ((rows.listings, r.LISTING), (rows.measures, r.PENALTY_MEASURE),
                        (rows.tax_grades, r.TAX_GRADE), (rows.trademarks, r.TRADEMARK)):  # fmt: skip
        assert all(len(row) == len(layout) for row in got)
    notice, measures = r.notice_rows(SAMPLES["penalties"])
    assert len(notice) == len(r.NOTICE)
    assert measures
    assert all(len(m) == len(r.NOTICE_MEASURE) for m in measures)


def test_the_profile_jsonb_is_canonical() -> None:
    """Sorted keys, UTC instants: the same profile is always the same bytes."""
    text = r.to_json(SAMPLES["profiles"])
    again = r.to_json(dict(reversed(list(SAMPLES["profiles"].items()))))
    assert text == again
    decoded = orjson.loads(text)
    assert list(decoded) == sorted(decoded)
    assert decoded["uscc"] == SAMPLES["profiles"]["uscc"]
