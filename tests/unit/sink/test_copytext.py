"""Rows as COPY text lines (sink/copytext.py) and a profile as a rebuild writes it
(sink/bulk.py). That PostgreSQL reads the lines back to the binary COPY's values is
tests/integration/test_copytext.py."""

from __future__ import annotations

import datetime as dt
import decimal
import pickle
import uuid

import pytest

from readmodel import rows as r
from sink.bulk import TABLES, copy_profile
from sink.changes import Snapshot
from sink.copytext import copy_line, copy_lines
from tests.samples import SAMPLES

D = decimal.Decimal
UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("杭州海康威视", "杭州海康威视"),
        ("a\\b", "a\\\\b"),
        ("tab\there", "tab\\there"),
        ("two\nlines\r", "two\\nlines\\r"),
        ('{"reason":"x\\ny"}', '{"reason":"x\\\\ny"}'),  # jsonb text: its escapes kept
        ("", ""),  # empty, not null
        (None, "\\N"),
        (True, "t"),
        (False, "f"),
        (0, "0"),
        (-12, "-12"),
        (D("12.50"), "12.50"),
        (D("1E+3"), "1E+3"),
        (dt.date(2017, 4, 20), "2017-04-20"),
        (dt.datetime(2017, 4, 20, 9, 30, tzinfo=UTC), "2017-04-20T09:30:00+00:00"),
        (dt.datetime(2017, 4, 20, 9, 30, 0, 123000, tzinfo=dt.timezone(dt.timedelta(hours=8))),
         "2017-04-20T09:30:00.123000+08:00"),
        (dt.datetime(2017, 4, 20, 9, 30), "2017-04-20T09:30:00+00:00"),  # naive: UTC
        ([], "{}"),
        (["court_defaulter", "tax"], '{"court_defaulter","tax"}'),
        (['a"b', "c\\d", "e,f", "NULL"], '{"a\\\\"b","c\\\\\\\\d","e,f","NULL"}'),
    ],
)  # fmt: skip
def test_each_type_is_written_as_postgresql_reads_it(value: object, written: str) -> None:
    assert copy_line([value]) == written + "\n"


def test_a_row_is_its_fields_tab_separated_and_rows_are_lines() -> None:
    assert copy_line(["a", None, 1]) == "a\t\\N\t1\n"
    assert copy_lines([("a",), ("b",)]) == "a\nb\n"
    assert copy_lines([]) == ""


@pytest.mark.parametrize("value", [1.5, b"x", uuid.uuid4(), [1, 2], {"a": 1}])
def test_a_type_outside_the_row_layout_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        copy_line([value])


def test_a_profile_as_a_rebuild_writes_it() -> None:
    rows = r.profile_rows(SAMPLES["profiles"])
    copied = copy_profile(rows)
    e = rows.enterprise
    at = r.ENTERPRISE.index
    assert (copied.uscc, copied.version, copied.upgrade) == (e[0], e[at("version")], False)
    assert copied.snapshot == Snapshot(e[at("grade")], e[at("score")], e[at("tax_grade")],
                                       e[at("credit_eligible")])  # fmt: skip
    assert copied.reported_at == e[at("last_reported_at")]
    assert TABLES == ("enterprise", "listing", "penalty_measure", "tax_grade", "trademark")
    assert copied.lines == tuple(
        copy_lines(x).encode()
        for x in ([e], rows.listings, rows.measures, rows.tax_grades, rows.trademarks)
    )
    assert copied.lines[4].count(b"\n") == len(rows.trademarks) > 0
    assert pickle.loads(pickle.dumps(copied)) == copied  # noqa: S301 - it crosses to the writer
