"""The bank-tax credit line (streams.core.credit_line): grades A/B/M get 5/3/1 times the
average annual tax of the last two complete years, capped at 1000万; everyone else is
refused with the reason (C/D, no grade, listing in force, too young, deregistered, no tax).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import pytest

from streams.core import CreditLine, Profile, SourceEvent, credit_line, fold, render

UTC = dt.UTC
D = decimal.Decimal
USCC = "91330100716105852F"
AS_OF = dt.date(2018, 6, 30)
_NS = uuid.UUID("7a3c9e21-64b0-4f5d-8e12-9b0c1d2e3f40")


def ev(source: str, event_type: str, when: dt.date, **fields: Any) -> SourceEvent:
    """A decoded event (only the fields the fold reads), occurring at ``when`` 09:00 UTC."""
    occurred = dt.datetime.combine(when, dt.time(9), tzinfo=UTC)
    record = {"uscc": USCC, "event_type": event_type, "occurred_at": occurred,
              "reported_at": occurred, **fields}  # fmt: skip
    record["event_id"] = str(uuid.uuid5(_NS, repr(sorted(record.items()))))
    return SourceEvent(source, record)


def registered(on: dt.date = dt.date(2010, 3, 1)) -> SourceEvent:
    return ev("enterprise", "REGISTERED", on, established_on=on, size_class="SMALL")


def grade(year: int, g: str) -> SourceEvent:
    return ev("tax", "GRADE_ASSESSED", dt.date(year + 1, 4, 20), tax_year=year, grade=g)


def paid(year: int, amount: str) -> SourceEvent:
    return ev("tax", "TAX_PAID", dt.date(year + 1, 1, 15), tax_year=year, amount=D(amount))


def listed(sector: str = "court_defaulter", decision: str = "(2018)执1号") -> SourceEvent:
    on = dt.date(2018, 2, 1)
    return ev("blacklist", "LISTED", on, sector=sector, decision_no=decision,
              listing_department="SPC", listed_on=on)  # fmt: skip


def line(*events: SourceEvent, as_of: dt.date = AS_OF) -> CreditLine:
    profiles, _ = fold(events, as_of)
    return credit_line(profiles[USCC], as_of)


TAXED = (paid(2016, "100000.00"), paid(2017, "300000.00"))  # average 200000.00


@pytest.mark.parametrize(
    ("g", "multiple", "amount", "tier"),
    [
        ("A", "5.00", "1000000.00", "benchmark"),
        ("B", "3.00", "600000.00", "benchmark+0.5pp"),
        ("M", "1.00", "200000.00", "benchmark+1pp"),
    ],
)
def test_eligible_grades_get_their_multiple_of_the_two_year_average(
    g: str, multiple: str, amount: str, tier: str
) -> None:
    """amount = multiple[grade] x the average tax of the two complete years before as_of."""
    assert line(registered(), grade(2017, g), *TAXED) == CreditLine(
        eligible=True, amount=D(amount), multiple=D(multiple), rate_tier=tier, reason=None
    )


def test_only_the_two_complete_years_before_the_clock_count() -> None:
    """Tax of earlier years and of the current year is ignored; a missing year counts 0."""
    events = (registered(), grade(2017, "B"), paid(2015, "900000.00"), paid(2018, "900000.00"))
    assert line(*events, paid(2017, "100000.00")).amount == D("150000.00")  # 3 x 100000 / 2
    assert line(*events, *TAXED, as_of=dt.date(2019, 1, 1)).amount == D("1800000.00")


def test_amount_is_capped_at_the_product_cap() -> None:
    """No firm gets more than 1000万, however much tax it pays."""
    big = (paid(2016, "5000000.00"), paid(2017, "5000000.00"))
    assert line(registered(), grade(2017, "A"), *big).amount == D("10000000.00")


def test_latest_grade_decides_and_a_repair_counts() -> None:
    """An old A does not help a firm now graded C; a C repaired to B is eligible as B."""
    assert not line(registered(), grade(2016, "A"), grade(2017, "C"), *TAXED).eligible
    repair = ev("tax", "GRADE_REPAIRED", dt.date(2018, 5, 1), tax_year=2017, grade="B")
    assert line(registered(), grade(2017, "C"), repair, *TAXED).multiple == D("3.00")


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ((registered(), grade(2017, "C"), *TAXED), "latest tax credit grade is C (2017)"),
        ((registered(), grade(2017, "D"), *TAXED), "latest tax credit grade is D (2017)"),
        ((registered(), *TAXED), "no tax credit grade"),
        ((registered(), grade(2017, "A"), *TAXED, listed()),
         "key-sector listing in force: court_defaulter (2018)执1号"),
        ((registered(dt.date(2017, 1, 1)), grade(2017, "A"), *TAXED),
         "in operation under 2 years"),
        ((grade(2017, "A"), *TAXED), "in operation under 2 years"),  # no registration known
        ((registered(), grade(2017, "A"), *TAXED,
          ev("enterprise", "DEREGISTERED", dt.date(2018, 3, 1))),
         "the enterprise is deregistered"),
        ((registered(), grade(2017, "A")), "no tax paid in 2016-2017"),
    ],
    ids=["grade-C", "grade-D", "no-grade", "listed", "young", "unregistered", "deregistered",
         "no-tax"],
)  # fmt: skip
def test_refused_with_the_reason(events: tuple[SourceEvent, ...], reason: str) -> None:
    """A refusal carries no amount, multiple or rate tier, only why."""
    assert line(*events) == CreditLine(eligible=False, reason=reason)


def test_two_listings_are_both_named() -> None:
    """The refusal names every listing in force, sorted by sector and decision."""
    refused = line(registered(), grade(2017, "A"), *TAXED, listed("wage_arrears", "欠薪2"),
                   listed("court_defaulter", "(2018)执1号"))  # fmt: skip
    assert refused.reason == (
        "key-sector listing in force: court_defaulter (2018)执1号; wage_arrears 欠薪2"
    )


def test_a_listing_that_ended_no_longer_blocks() -> None:
    """Once the listing is removed, the firm is eligible again."""
    removal = ev("blacklist", "REMOVED", dt.date(2018, 4, 1), sector="court_defaulter",
                 decision_no="(2018)执1号", listing_department="SPC",
                 listed_on=dt.date(2018, 2, 1), removal_ground="COURT_DELETION",
                 removed_on=dt.date(2018, 4, 1))  # fmt: skip
    assert line(registered(), grade(2017, "A"), *TAXED, listed(), removal).eligible


def test_the_rendered_profile_shows_the_same_line() -> None:
    """render() publishes exactly what credit_line() computes."""
    profiles, _ = fold((registered(), grade(2017, "B"), *TAXED), AS_OF)
    p: Profile = profiles[USCC]
    computed = credit_line(p, AS_OF)
    assert render(p, AS_OF)["credit_line"] == {
        "eligible": computed.eligible, "amount": computed.amount, "multiple": computed.multiple,
        "rate_tier": computed.rate_tier, "reason": computed.reason,
    }  # fmt: skip
