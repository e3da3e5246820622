"""The patent source's rules (schemas/events.py), each refused with its own reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.errors import InvalidEvent
from schemas.events import REQUIRED, SOURCES, validate_event
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog
from tests.samples import SAMPLES

CATALOG = load_catalog()
READ_AT = dt.datetime(2017, 4, 21, tzinfo=dt.UTC)
A, B = "91330000727215176K", "91330100716105852F"
GRANT = {**SAMPLES["patent"], "event_type": "GRANTED", "pledge_no": None, "pledgee": None,
         "secured_amount": None, "pledge_from": None, "pledge_until": None}  # fmt: skip


def reason_of(event: dict[str, Any]) -> tuple[str, str | None]:
    with pytest.raises(InvalidEvent) as caught:
        validate_event("patent", event, CATALOG, read_at=READ_AT)
    return caught.value.reason, caught.value.field


def test_patent_is_the_fifth_source_and_every_event_type_has_its_requirements() -> None:
    assert SOURCES == ("enterprise", "tax", "trademark", "blacklist", "patent")
    kinds = ManifestRegistry.load().latest("patent").schema["fields"][5]["type"]["symbols"]
    assert set(REQUIRED["patent"]) == set(kinds)


def test_the_sample_grant_and_pledge_are_valid() -> None:
    validate_event("patent", SAMPLES["patent"], CATALOG, read_at=READ_AT)
    validate_event("patent", GRANT, CATALOG, read_at=READ_AT)


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"patent_no": "201310699744.3"}, "patent_check_digit", "patent_no"),
        ({"patent_no": "201340699744.2"}, "invalid_patent_number", "patent_no"),  # kind 4
        ({"patent_no": "ZL201310699744.2"}, "invalid_patent_number", "patent_no"),  # not normal
        ({"patent_no": "2013106997442"}, "invalid_patent_number", "patent_no"),
        ({"patent_kind": "DESIGN"}, "patent_kind_mismatch", "patent_kind"),
        ({"application_date": dt.date(2014, 1, 2)}, "patent_year_mismatch", "application_date"),
        ({"grant_date": dt.date(2013, 12, 1)}, "bad_dates", "grant_date"),
        ({"grant_date": dt.date(2017, 5, 1)}, "from_the_future", "grant_date"),
        ({"title": None}, "missing_field", "title"),
        ({"transferor_uscc": "9133NOTACODE"}, "invalid_credit_code", "transferor_uscc"),
        ({"transferee_uscc": "91330100716105852f"}, "invalid_credit_code", "transferee_uscc"),
        ({"department": "SAMR"}, None, None),  # validation knows departments, not owners
    ],
)
def test_a_broken_grant_names_its_rule(change: dict[str, Any], reason: str | None,
                                       field: str | None) -> None:  # fmt: skip
    event = {**GRANT, **change}
    if reason is None:
        validate_event("patent", event, CATALOG, read_at=READ_AT)
    else:
        assert reason_of(event) == (reason, field)


def test_a_pledge_needs_its_number_pledgee_and_amount_and_a_term_that_ends_after_it_starts() -> (
    None
):
    pledge = SAMPLES["patent"]
    for field in ("pledge_no", "pledgee", "secured_amount"):
        assert reason_of({**pledge, field: None}) == ("missing_field", field)
    assert reason_of({**pledge, "pledge_until": pledge["pledge_from"]}) == ("bad_dates",
                                                                         "pledge_until")  # fmt: skip
    released = {**pledge, "event_type": "PLEDGE_RELEASED", "pledgee": None, "secured_amount": None}
    validate_event("patent", released, CATALOG, read_at=READ_AT)


def transfer(kind: str, uscc: str, **change: Any) -> dict[str, Any]:
    return {**GRANT, "event_type": kind, "uscc": uscc, "transferor_uscc": A,
            "transferee_uscc": B, **change}  # fmt: skip


def test_a_transfer_is_sent_under_each_side_with_both_codes() -> None:
    validate_event("patent", transfer("TRANSFERRED_OUT", A), CATALOG, read_at=READ_AT)
    validate_event("patent", transfer("TRANSFERRED_IN", B), CATALOG, read_at=READ_AT)
    assert reason_of(transfer("TRANSFERRED_OUT", B)) == ("transfer_party_mismatch", "uscc")
    assert reason_of(transfer("TRANSFERRED_IN", A)) == ("transfer_party_mismatch", "uscc")
    assert reason_of(transfer("TRANSFERRED_OUT", A, transferee_uscc=A)) == (
        "transfer_party_mismatch", "transferee_uscc")  # fmt: skip
    assert reason_of(transfer("TRANSFERRED_IN", B, transferor_uscc="91330000727215176L")) == (
        "invalid_credit_code", "transferor_uscc")  # fmt: skip
    assert reason_of(transfer("TRANSFERRED_IN", B, transferee_uscc=None)) == (
        "missing_field", "transferee_uscc")  # fmt: skip
    assert reason_of(transfer("TRANSFERRED_IN", B, title=None)) == ("missing_field", "title")


def test_invalidation_needs_its_decision() -> None:
    invalidated = {**GRANT, "event_type": "INVALIDATED", "decision_no": "第123456号"}
    validate_event("patent", invalidated, CATALOG, read_at=READ_AT)
    validate_event("patent", {**invalidated, "partial": True}, CATALOG, read_at=READ_AT)
    assert reason_of({**invalidated, "decision_no": None}) == ("missing_field", "decision_no")


def test_lapse_and_restoration_need_only_the_number() -> None:
    bare = {k: None for k in GRANT if k not in ("event_id", "uscc", "department", "occurred_at",
                                                 "reported_at", "patent_no")}  # fmt: skip
    for kind in ("LAPSED", "RESTORED"):
        validate_event("patent", {**GRANT, **bare, "event_type": kind}, CATALOG, read_at=READ_AT)
