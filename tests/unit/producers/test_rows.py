"""Rows as clerks export them become typed events, or a rejection naming field and rule."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from producers.rows import BEIJING, RowParser, RowRejected, event_id_for
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

NOW = dt.datetime(2017, 5, 1, tzinfo=dt.UTC)
registry = ManifestRegistry.load()


def parser(source: str) -> RowParser:
    return RowParser(source, registry.latest(source), load_catalog())


GRADE_ROW = {
    "uscc": "91330100716105852f ", "department": "SAT", "occurred_at": "2017-04-20 09:30",
    "event_type": "grade_assessed", "tax_year": "2016", "grade": "a", "score": "95.5",
    "direct_judgement": "否",
}  # fmt: skip


def test_a_clerks_grade_row_becomes_a_typed_event() -> None:
    event = parser("tax").parse(GRADE_ROW, NOW)
    assert event["uscc"] == "91330100716105852F"
    assert event["event_type"] == "GRADE_ASSESSED"
    assert event["grade"] == "A"
    assert event["score"] == decimal.Decimal("95.50")
    assert event["direct_judgement"] is False
    assert event["occurred_at"] == dt.datetime(2017, 4, 20, 9, 30, tzinfo=BEIJING)
    assert event["reported_at"] == NOW
    assert uuid.UUID(event["event_id"]).version == 5


def test_event_ids_depend_on_content_not_on_report_time() -> None:
    first = parser("tax").parse(GRADE_ROW, NOW)
    again = parser("tax").parse(GRADE_ROW, NOW + dt.timedelta(days=3))
    other = parser("tax").parse({**GRADE_ROW, "grade": "B", "score": "80"}, NOW)
    assert first["event_id"] == again["event_id"]
    assert first["event_id"] != other["event_id"]
    assert event_id_for("tax", first) == first["event_id"]


def test_dates_amounts_and_given_ids_in_clerk_formats() -> None:
    row = {"uscc": "91330000727215176K", "department": "SAT", "occurred_at": "2017/03/01",
           "event_type": "TAX_PAID", "tax_year": "2016", "amount": "1,234,567.80",
           "event_id": "2C1D7E3F-9A4B-5C6D-8E7F-0A1B2C3D4E5F", "reported_at": "2017-03-02T08:00:00Z"}  # fmt: skip
    event = parser("tax").parse(row, NOW)
    assert event["amount"] == decimal.Decimal("1234567.80")
    assert event["occurred_at"] == dt.datetime(2017, 3, 1, tzinfo=BEIJING)
    assert event["reported_at"] == dt.datetime(2017, 3, 2, 8, tzinfo=dt.UTC)
    assert event["event_id"] == "2c1d7e3f-9a4b-5c6d-8e7f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("source", "change", "field", "reason"),
    [
        ("tax", {"uscc": "91330100716105852G"}, "uscc", "invalid_credit_code"),
        ("tax", {"grade": "E"}, "grade", "bad_value"),
        ("tax", {"grade": ""}, "grade", "missing_field"),
        ("tax", {"occurred_at": "2017-13-45"}, "occurred_at", "bad_value"),
        ("tax", {"occurred_at": ""}, "occurred_at", "missing_field"),
        ("tax", {"score": "95.555"}, "score", "bad_value"),
        ("tax", {"score": "101"}, "score", "out_of_range"),
        ("tax", {"tax_year": "二〇一六"}, "tax_year", "bad_value"),
        ("tax", {"department": "TAXBUREAU"}, "department", "unknown_department"),
        ("tax", {"occurred_at": "2017-06-01", "reported_at": "2017-05-01"}, "occurred_at", "bad_dates"),
        ("tax", {"event_id": "not-a-uuid"}, "event_id", "bad_value"),
    ],
)  # fmt: skip
def test_bad_rows_are_rejected_with_field_and_reason(
    source: str, change: dict[str, str], field: str, reason: str
) -> None:
    with pytest.raises(RowRejected) as caught:
        parser(source).parse({**GRADE_ROW, **change}, NOW)
    assert (caught.value.field, caught.value.reason) == (field, reason)


LISTING = {
    "uscc": "913301067046373179", "department": "SPC", "occurred_at": "2017-04-20",
    "event_type": "LISTED", "sector": "court_defaulter", "decision_no": "(2017)浙0106执1234号",
    "listing_department": "SPC", "listed_on": "2017-04-20", "planned_end_on": "2019-04-20",
}  # fmt: skip


def test_blacklist_rules() -> None:
    assert parser("blacklist").parse(LISTING, NOW)["sector"] == "court_defaulter"
    cases = [
        ({"sector": "littering"}, "sector", "unknown_sector"),
        ({"planned_end_on": "2016-01-01"}, "planned_end_on", "bad_dates"),
        ({"event_type": "REMOVED"}, "removal_ground", "missing_field"),
        ({"decision_no": ""}, "decision_no", "missing_field"),
    ]
    for change, field, reason in cases:
        with pytest.raises(RowRejected) as caught:
            parser("blacklist").parse({**LISTING, **change}, NOW)
        assert (caught.value.field, caught.value.reason) == (field, reason), change


def test_trademark_and_enterprise_rules() -> None:
    mark = {"uscc": "91330000727215176K", "department": "SAMR", "occurred_at": "2016-01-07",
            "event_type": "REGISTERED", "registration_no": "10205176", "nice_class": "46",
            "valid_from": "2016-01-07", "valid_until": "2026-01-06"}  # fmt: skip
    with pytest.raises(RowRejected) as caught:
        parser("trademark").parse(mark, NOW)
    assert (caught.value.field, caught.value.reason) == ("nice_class", "out_of_range")
    assert parser("trademark").parse({**mark, "nice_class": "9"}, NOW)["nice_class"] == 9

    change = {"uscc": "91330000727215176K", "department": "SAMR", "occurred_at": "2016-01-07",
              "event_type": "CHANGED"}  # fmt: skip
    with pytest.raises(RowRejected) as caught:
        parser("enterprise").parse(change, NOW)
    assert caught.value.reason == "missing_field"
    assert (
        parser("enterprise").parse({**change, "size_class": "small"}, NOW)["size_class"] == "SMALL"
    )


def test_unknown_columns_are_reported() -> None:
    assert parser("tax").unknown_columns(["uscc", "taxpayer_name", "grade"]) == ["taxpayer_name"]


def test_a_department_sender_fills_its_department_and_refuses_anothers() -> None:
    sat = RowParser("tax", registry.latest("tax"), load_catalog(), department="SAT")
    without = {k: v for k, v in GRADE_ROW.items() if k != "department"}
    assert sat.parse(without, NOW)["department"] == "SAT"
    assert sat.parse(without, NOW) == parser("tax").parse(GRADE_ROW, NOW)  # the same id too
    with pytest.raises(RowRejected) as refused:
        RowParser("tax", registry.latest("tax"), load_catalog(), "SAMR").parse(GRADE_ROW, NOW)
    assert (refused.value.field, refused.value.reason) == ("department", "wrong_department")
    assert "SAMR" in refused.value.message
    assert "SAT" in refused.value.message


def test_the_departments_chinese_column_names_fill_the_same_fields() -> None:
    chinese = {
        "统一社会信用代码": "91330100716105852f ", "报送部门": "SAT", "发生时间": "2017-04-20 09:30",
        "事件类型": "grade_assessed", "评价年度": "2016", "纳税信用级别": "a", "评价得分": "95.5",
        "直接判级": "否", "备注": "ignored",
    }  # fmt: skip
    tax = parser("tax")
    assert tax.parse(chinese, NOW) == tax.parse(GRADE_ROW, NOW)  # event id included
    assert tax.unknown_columns([*chinese, "grade"]) == ["备注"]
