"""Patents in the fold and the rendered profile: terms, the status order, transfers on both
sides, pledges covering several patents, and the ip_pledge summary banks read."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import pytest

from streams.core import Profile, SourceEvent, apply, fold, render
from streams.core.patents import term_ends_on
from tests.samples import SAMPLES

UTC = dt.UTC
D = decimal.Decimal
USCC = "91330000727215176K"  # the sample patentee
BUYER = "91330100716105852F"
AS_OF = dt.date(2018, 6, 30)
INVENTION, UTILITY = "201710601862.3", "201720601862.9"
_NS = uuid.UUID("6a7b8c9d-0e1f-4a2b-8c3d-4e5f60718293")
_BLANK = dict.fromkeys(
    ["patent_kind", "title", "application_date", "grant_date", "transferor_uscc",
     "transferee_uscc", "pledge_no", "pledgee", "secured_amount", "pledge_from",
     "pledge_until", "decision_no", "partial"]
)  # fmt: skip


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 9, tzinfo=UTC)


def patent(
    kind: str, number: str, when: dt.datetime, uscc: str = USCC, **fields: Any
) -> SourceEvent:
    record = {**SAMPLES["patent"], **_BLANK, "uscc": uscc, "event_type": kind,
              "patent_no": number, "occurred_at": when, "reported_at": when, **fields}  # fmt: skip
    record["event_id"] = str(uuid.uuid5(_NS, repr(sorted(record.items()))))
    return SourceEvent("patent", record)


def granted(number: str, when: dt.datetime, **fields: Any) -> SourceEvent:
    kind = "INVENTION" if number[4] == "1" else "UTILITY_MODEL"
    return patent("GRANTED", number, when, patent_kind=kind, title="一种方法",
                  application_date=dt.date(2017, 3, 1), grant_date=dt.date(2018, 1, 15),
                  **fields)  # fmt: skip


def shown(*events: SourceEvent, as_of: dt.date = AS_OF, uscc: str = USCC) -> dict[str, Any]:
    profiles, _ = fold(list(events), as_of)
    return render(profiles.get(uscc) or Profile(uscc), as_of)


def status(r: dict[str, Any], number: str) -> str:
    return str({x["patent_no"]: x["status"] for x in r["patents"]}[number])


@pytest.mark.parametrize(
    ("kind", "filed", "ends"),
    [
        ("INVENTION", dt.date(2013, 12, 18), dt.date(2033, 12, 17)),
        ("UTILITY_MODEL", dt.date(2012, 2, 29), dt.date(2022, 2, 28)),  # no 29 Feb in 2022
        ("INVENTION", dt.date(2012, 2, 29), dt.date(2032, 2, 28)),  # 2032 has one
        ("DESIGN", dt.date(2021, 5, 31), dt.date(2031, 5, 30)),
        ("DESIGN", dt.date(2021, 6, 1), dt.date(2036, 5, 31)),  # 15 years from the 4th amendment
        ("DESIGN", None, None),
        (None, dt.date(2020, 1, 1), None),
    ],
)
def test_the_term_runs_from_the_filing_date_by_kind(
    kind: str | None, filed: dt.date | None, ends: dt.date | None
) -> None:
    assert term_ends_on(kind, filed) == ends


def test_a_grant_shows_in_force_and_counts_by_kind_and_expires_after_its_term() -> None:
    r = shown(granted(INVENTION, at(2018, 1, 15)), granted(UTILITY, at(2018, 2, 1)))
    assert [x["patent_no"] for x in r["patents"]] == [INVENTION, UTILITY]
    assert (r["invention_patent_count"], r["utility_model_patent_count"]) == (1, 1)
    assert r["patents"][1]["term_ends_on"] == dt.date(2027, 2, 28)
    later = shown(granted(UTILITY, at(2018, 2, 1)), as_of=dt.date(2027, 3, 1))
    assert status(later, UTILITY) == "EXPIRED"
    assert later["utility_model_patent_count"] == 0


def test_a_lapse_ends_the_right_and_a_newer_restoration_brings_it_back() -> None:
    grant, lapse = granted(INVENTION, at(2018, 1, 15)), patent("LAPSED", INVENTION, at(2018, 3, 1))
    restore = patent("RESTORED", INVENTION, at(2018, 4, 1))
    assert status(shown(grant, lapse), INVENTION) == "LAPSED"
    assert status(shown(restore, lapse, grant), INVENTION) == "IN_FORCE"  # order-free
    assert status(shown(grant, restore, patent("LAPSED", INVENTION, at(2018, 5, 1))),
                  INVENTION) == "LAPSED"  # fmt: skip


def test_the_status_order_transfer_then_invalidation_then_lapse() -> None:
    grant = granted(INVENTION, at(2018, 1, 15))
    lapse = patent("LAPSED", INVENTION, at(2018, 3, 1))
    whole = patent("INVALIDATED", INVENTION, at(2018, 4, 1), decision_no="第1号", partial=False)
    part = patent("INVALIDATED", INVENTION, at(2018, 4, 1), decision_no="第2号", partial=True)
    out = patent("TRANSFERRED_OUT", INVENTION, at(2018, 5, 1), patent_kind="INVENTION",
                 title="一种方法", transferor_uscc=USCC, transferee_uscc=BUYER)  # fmt: skip
    assert status(shown(grant, lapse, whole), INVENTION) == "INVALIDATED"
    r = shown(grant, part)
    assert status(r, INVENTION) == "IN_FORCE"
    assert r["patents"][0]["partially_invalidated"] is True
    assert r["patents"][0]["invalidation_decision_no"] == "第2号"
    r = shown(grant, lapse, whole, out)
    assert status(r, INVENTION) == "TRANSFERRED_OUT"
    assert r["patents"][0]["transferred_to"] == BUYER


def test_a_transfer_is_folded_on_both_sides_and_the_newest_holding_fact_decides() -> None:
    common = {"patent_kind": "INVENTION", "title": "一种方法", "transferor_uscc": USCC,
              "transferee_uscc": BUYER}  # fmt: skip
    out = patent("TRANSFERRED_OUT", INVENTION, at(2018, 5, 1), **common)
    into = patent("TRANSFERRED_IN", INVENTION, at(2018, 5, 1), uscc=BUYER, **common)
    buyer = shown(into, uscc=BUYER)
    assert status(buyer, INVENTION) == "IN_FORCE"
    assert buyer["patents"][0]["transferred_from"] == USCC
    assert buyer["invention_patent_count"] == 1
    # A grant older than the transfer does not bring it back; a later buy-back does.
    assert status(shown(out, granted(INVENTION, at(2018, 1, 15))), INVENTION) == "TRANSFERRED_OUT"
    back = patent("TRANSFERRED_IN", INVENTION, at(2018, 6, 1),
                  **{**common, "transferor_uscc": BUYER, "transferee_uscc": USCC})  # fmt: skip
    assert status(shown(back, out), INVENTION) == "IN_FORCE"


def pledge(
    kind: str, number: str, when: dt.datetime, pledge_no: str = "ZX-1", **f: Any
) -> SourceEvent:
    return patent(kind, number, when, pledge_no=pledge_no, **f)


def test_one_pledge_over_two_patents_is_counted_once_and_shown_under_each() -> None:
    terms = {"pledgee": "建设银行", "secured_amount": D("800000.00")}
    r = shown(
        granted(INVENTION, at(2018, 1, 15)), granted(UTILITY, at(2018, 2, 1)),
        pledge("PLEDGE_REGISTERED", INVENTION, at(2018, 3, 1), **terms),
        pledge("PLEDGE_REGISTERED", UTILITY, at(2018, 3, 1), **terms),
    )  # fmt: skip
    assert [len(x["pledges"]) for x in r["patents"]] == [1, 1]
    assert (r["active_patent_pledge_count"], r["patent_pledged_amount"]) == (1, D("800000.00"))
    assert r["ip_pledge"]["pledgeable_patents"] == []
    released = shown(
        granted(INVENTION, at(2018, 1, 15)),
        pledge("PLEDGE_REGISTERED", INVENTION, at(2018, 3, 1), **terms),
        pledge("PLEDGE_RELEASED", INVENTION, at(2018, 5, 1)),
    )  # fmt: skip
    assert released["patents"][0]["pledges"] == []
    assert released["active_patent_pledge_count"] == 0
    assert released["ip_pledge"]["pledgeable_patents"] == [INVENTION]


def test_ip_pledge_puts_trademark_and_patent_pledges_together() -> None:
    mark = {**SAMPLES["trademark"], "uscc": USCC, "event_type": "REGISTERED",
            "event_id": "3d2e8f40-ab5c-5d7e-9f80-1b2c3d4e5f61", "pledge_no": None,
            "valid_from": dt.date(2012, 1, 1), "valid_until": dt.date(2022, 1, 1)}  # fmt: skip
    other = {
        **mark,
        "registration_no": "10205177",
        "event_id": "3d2e8f40-ab5c-5d7e-9f80-1b2c3d4e5f62",
    }
    events = [SourceEvent("trademark", mark), SourceEvent("trademark", other),
              SourceEvent("trademark", SAMPLES["trademark"]),  # pledges 10205176 for 5,000,000
              granted(INVENTION, at(2018, 1, 15)), granted(UTILITY, at(2018, 2, 1)),
              pledge("PLEDGE_REGISTERED", UTILITY, at(2018, 3, 1), secured_amount=D("800000.00"))]  # fmt: skip
    summary = shown(*events)["ip_pledge"]
    assert summary == {
        "active_pledge_count": 2,
        "secured_amount": D("5800000.00"),
        "pledgeable_trademarks": ["10205177"],
        "pledgeable_patents": [INVENTION],
    }
    assert shown(*events[:1])["ip_pledge"]["active_pledge_count"] == 0
    assert render(Profile(USCC), AS_OF)["ip_pledge"] is None  # nothing known: no summary


def test_a_patent_event_changes_the_version_once_and_a_redelivery_not_at_all() -> None:
    grant = granted(INVENTION, at(2018, 1, 15))
    once, _ = apply(Profile(USCC), grant, AS_OF)
    twice, _ = apply(once, grant, AS_OF)
    assert once.version == 1
    assert twice is once
    assert once.last["patent"][1] == grant.event["event_id"]
