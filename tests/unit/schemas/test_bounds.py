"""The bounded contract (schemas/bounds.py): every field has limits, checked before parsing."""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.bounds import MAX_LENGTH, READ_SKEW, USCC_MAX_RAW, check_bounds
from schemas.errors import InvalidCreditCode, InvalidEvent
from schemas.events import SOURCES, validate_event
from schemas.sectors import load_catalog
from schemas.uscc import normalize, problem, validate
from tests.samples import SAMPLES

catalog = load_catalog()
READ_AT = dt.datetime(2018, 7, 1, tzinfo=dt.UTC)


def sample(source: str, **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SAMPLES[source]), **changes}


def verdict(source: str, read_at: dt.datetime = READ_AT, **changes: Any) -> tuple[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        validate_event(source, sample(source, **changes), catalog, read_at=read_at)
    return caught.value.reason, str(caught.value.field)


def test_the_samples_are_inside_every_bound() -> None:
    for source in SOURCES:
        validate_event(source, sample(source), catalog, read_at=READ_AT)


def test_a_4000_character_decision_number_is_too_long() -> None:
    """The issue's example: it stopped the sink on PostgreSQL's index row limit."""
    assert verdict("blacklist", decision_no="浙" * 4000) == ("too_long", "decision_no")


@pytest.mark.parametrize("field", sorted(set(MAX_LENGTH) - {"uscc"}))
def test_every_named_length_is_a_limit(field: str) -> None:
    check_bounds({field: "1" * MAX_LENGTH[field]}, read_at=READ_AT)
    with pytest.raises(InvalidEvent) as caught:
        check_bounds({field: "1" * (MAX_LENGTH[field] + 1)}, read_at=READ_AT)
    assert (caught.value.reason, caught.value.field) == ("too_long", field)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\u200b", "\u202e", "\ufeff", "\ud800"])
def test_control_format_and_surrogate_characters_are_refused(char: str) -> None:
    assert verdict("enterprise", name=f"杭州{char}有限公司") == ("control_character", "name")


def test_the_free_text_reason_may_have_line_breaks_but_no_nul() -> None:
    validate_event("blacklist", sample("blacklist", reason="一\n二\t三\r\n"), catalog,
                   read_at=READ_AT)  # fmt: skip
    assert verdict("blacklist", reason="一\x00二") == ("control_character", "reason")


def test_combining_characters_and_private_use_are_allowed() -> None:
    """GBK exports put rare characters in the private use area; combining marks are text."""
    validate_event("enterprise", sample("enterprise", name="e\u0301\ue000公司"), catalog,
                   read_at=READ_AT)  # fmt: skip


@pytest.mark.parametrize(
    "amount",
    [decimal.Decimal("1e16"), decimal.Decimal("-1e16"), decimal.Decimal("0.001"),
     decimal.Decimal("NaN"), decimal.Decimal("Infinity")],
)  # fmt: skip
def test_amounts_stay_inside_decimal_18_2(amount: decimal.Decimal) -> None:
    assert verdict("tax", event_type="TAX_PAID", amount=amount) == ("out_of_range", "amount")


def test_the_largest_amount_fits() -> None:
    largest = decimal.Decimal("9999999999999999.99")
    validate_event("tax", sample("tax", event_type="TAX_PAID", amount=largest), catalog,
                   read_at=READ_AT)  # fmt: skip


def test_a_listing_reported_in_2107_is_from_the_future() -> None:
    """The issue's example: a future fact would win its register for ever."""
    reported = dt.datetime(2107, 1, 1, tzinfo=dt.UTC)
    assert verdict("blacklist", reported_at=reported) == ("out_of_range", "reported_at")
    inside_the_window = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    assert verdict("blacklist", reported_at=inside_the_window) == (
        "from_the_future",
        "reported_at",
    )


def test_reported_at_may_run_the_stated_skew_ahead_and_no_more() -> None:
    reported = SAMPLES["tax"]["reported_at"]
    validate_event("tax", sample("tax"), catalog, read_at=reported - READ_SKEW)
    late = reported - READ_SKEW - dt.timedelta(seconds=1)
    assert verdict("tax", read_at=late) == ("from_the_future", "reported_at")


def test_a_listing_dated_after_its_report_is_from_the_future() -> None:
    reported = SAMPLES["blacklist"]["reported_at"]
    later = reported.date() + dt.timedelta(days=2)
    assert verdict("blacklist", listed_on=later) == ("from_the_future", "listed_on")


def test_a_tax_year_after_the_year_reported_is_from_the_future() -> None:
    year = SAMPLES["tax"]["reported_at"].year + 1
    assert verdict("tax", tax_year=year) == ("from_the_future", "tax_year")


@pytest.mark.parametrize("day", [dt.date(1899, 12, 31), dt.date(2101, 1, 1)])
def test_dates_stay_inside_the_window(day: dt.date) -> None:
    assert verdict("trademark", valid_until=day)[0] == "out_of_range"


_CST = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (dt.datetime(1900, 1, 1, 7, 59, 59, 999999, tzinfo=_CST), False),
        (dt.datetime(1900, 1, 1, 8, tzinfo=_CST), True),
        (dt.datetime(1901, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=23, minutes=59))), True),
        (dt.datetime(2099, 12, 31, 23, 59, tzinfo=dt.timezone(-dt.timedelta(hours=23))), True),
        (dt.datetime(2100, 12, 31, 23, 59, tzinfo=dt.timezone(-dt.timedelta(hours=1))), False),
        (dt.datetime(2101, 1, 1, 7, 59, 59, 999999, tzinfo=_CST), True),
        (dt.datetime(2101, 1, 1, 8, tzinfo=_CST), False),
    ],
)
def test_timestamps_stay_inside_the_window_at_any_offset(moment: dt.datetime, inside: bool) -> None:
    if inside:
        check_bounds({"occurred_at": moment}, read_at=READ_AT)
    else:
        with pytest.raises(InvalidEvent, match=r"outside 1900-01-01\.\.2100-12-31"):
            check_bounds({"occurred_at": moment}, read_at=READ_AT)


def test_a_naive_timestamp_is_not_compared_with_the_window() -> None:
    with pytest.raises(TypeError, match="offset-naive"):
        check_bounds({"occurred_at": dt.datetime(2017, 4, 20)}, read_at=READ_AT)


def test_a_credit_code_is_length_checked_before_any_parsing() -> None:
    """The issue's example: 8.7 s of parsing a code with a long run of spaces inside."""
    hostile = "9" + " " * 500_000 + "1330100716105852F"
    started = time.perf_counter()
    with pytest.raises(InvalidCreditCode) as caught:
        validate(hostile)
    assert caught.value.reason == "length"
    assert len(str(caught.value)) < 200
    assert problem(hostile) is not None
    assert verdict("tax", uscc=hostile) == ("too_long", "uscc")
    # Linear trimming: a code padded on both sides by a long run, under the raw limit,
    # and a huge padded one through normalize (which has no length check of its own).
    assert validate(" \u3000\ufeff91330100716105852f\u200b ").code == "91330100716105852F"
    assert normalize(" " * 1_000_000 + "x" + " " * 1_000_000) == "X"
    assert time.perf_counter() - started < 5  # quadratic parsing took minutes here


def test_the_raw_code_limit_leaves_room_for_padding() -> None:
    padded = " " * (USCC_MAX_RAW - 18) + "91330100716105852F"
    assert validate(padded).code == "91330100716105852F"
    with pytest.raises(InvalidCreditCode):
        validate(" " + padded)


@given(st.text(max_size=300))
def test_any_text_meets_a_verdict_not_an_exception(text: str) -> None:
    """Every string a department can send is either inside the bounds or refused by name."""
    for field in ("name", "decision_no", "reason", "uscc"):
        verdicts = []
        try:
            check_bounds({field: text}, read_at=READ_AT)
        except InvalidEvent as error:
            verdicts.append((error.reason, error.field))
        assert all(r in {"too_long", "control_character"} and f == field for r, f in verdicts)


def test_a_code_travels_in_its_normal_form() -> None:
    """Folded as written, a padded or lower-case code would be a second enterprise."""
    assert verdict("tax", uscc=" 91330100716105852F") == ("invalid_credit_code", "uscc")
    assert verdict("tax", uscc="91330100716105852f") == ("invalid_credit_code", "uscc")
