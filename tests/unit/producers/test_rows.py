"""Rows as clerks export them become typed events, or a rejection naming field and rule."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from producers.rows import BEIJING, EVENT_ID_NAMESPACE, RowParser, RowRejected, event_id_for
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


@pytest.mark.parametrize("name", ["浙江", "", "x" * 500, "\x1f=\udc80"])
def test_an_event_id_is_the_uuid5_of_the_source_and_the_sorted_fields(name: str) -> None:
    event = {"uscc": "91330100716105852F", "name": name, "established_on": dt.date(2017, 4, 20),
             "occurred_at": dt.datetime(2017, 4, 20, 1, 2, 3, 456789, tzinfo=BEIJING),
             "capital": decimal.Decimal("-0.50"), "zjtx_year": None, "event_id": "x",
             "reported_at": NOW}  # fmt: skip
    text = "\x1f".join(["enterprise", "capital=-0.50", "established_on=2017-04-20",
                        f"name={name}", "occurred_at=1492621323457", "uscc=91330100716105852F",
                        "zjtx_year="])  # fmt: skip
    try:
        expected = str(uuid.uuid5(EVENT_ID_NAMESPACE, text))
    except UnicodeEncodeError:  # a lone surrogate: neither can hash it
        with pytest.raises(UnicodeEncodeError):
            event_id_for("enterprise", event)
        return
    assert event_id_for("enterprise", event) == expected


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


PATENT_ROW = {
    "统一社会信用代码": "91330000727215176k", "报送部门": "CNIPA", "发生时间": "2016-08-17",
    "事件类型": "granted", "专利号": "ZL 201310699744.2", "专利名称": "一种视频图像的编码方法",
    "专利类型": "发明", "申请日": "2013-12-18", "授权公告日": "2016/08/17",
}  # fmt: skip


def test_a_patent_row_with_chinese_headers_and_values_becomes_a_grant() -> None:
    event = parser("patent").parse(PATENT_ROW, NOW)
    assert event["uscc"] == "91330000727215176K"
    assert event["patent_no"] == "201310699744.2"  # the ZL prefix and blank dropped
    assert event["patent_kind"] == "INVENTION"
    assert event["grant_date"] == dt.date(2016, 8, 17)
    for written, kind in (("实用新型", "UTILITY_MODEL"), (" 外观设计 ", "DESIGN"),
                          ("utility_model", "UTILITY_MODEL")):  # fmt: skip
        with pytest.raises(RowRejected) as caught:  # the number says invention
            parser("patent").parse({**PATENT_ROW, "专利类型": written}, NOW)
        assert caught.value.reason == "patent_kind_mismatch"
        assert kind in caught.value.message


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"专利号": "ZL201310699744.3"}, "patent_check_digit", "patent_no"),
        ({"专利号": "201310699744"}, "invalid_patent_number", "patent_no"),
        ({"专利类型": "发明创造"}, "bad_value", "patent_kind"),
        ({"申请日": "2012-12-18"}, "patent_year_mismatch", "application_date"),
        ({"专利号": ""}, "missing_field", "patent_no"),
    ],
)
def test_a_bad_patent_row_is_rejected_with_its_reason(change: dict[str, str], reason: str,
                                                      field: str) -> None:  # fmt: skip
    with pytest.raises(RowRejected) as caught:
        parser("patent").parse({**PATENT_ROW, **change}, NOW)
    assert (caught.value.reason, caught.value.field) == (reason, field)


def test_a_pledge_row_and_a_transfer_row_in_the_departments_words() -> None:
    pledge = {**PATENT_ROW, "事件类型": "PLEDGE_REGISTERED", "质押登记号": "Y2017330000042",
              "质权人": "中国工商银行杭州分行", "担保金额": "3,000,000", "质押期限起": "2017-04-19",
              "质押期限至": "2019-04-18"}  # fmt: skip
    event = parser("patent").parse(pledge, NOW)
    assert event["secured_amount"] == decimal.Decimal("3000000.00")
    assert (event["pledge_from"], event["pledge_until"]) == (dt.date(2017, 4, 19),
                                                            dt.date(2019, 4, 18))  # fmt: skip
    moved = {**PATENT_ROW, "事件类型": "TRANSFERRED_IN", "统一社会信用代码": "91330100716105852F",
             "转让人": "91330000727215176k ", "受让人": "91330100716105852f"}  # fmt: skip
    event = parser("patent").parse(moved, NOW)
    assert event["transferor_uscc"] == "91330000727215176K"  # normalised like the key
    assert event["transferee_uscc"] == event["uscc"]
