"""The fold (streams.core.fold) on small hand-built events: where each fact lands in the
rendered profile, supersession by effective time, the version counter, listings against
the clock and the joint-penalty notices (IMPOSED / LIFTED / ESCALATED) to the field.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import schemas
from schemas.sectors import load_catalog
from streams.core import Profile, SourceEvent, apply, fold, next_due, render, sweep
from streams.core.notices import BEIJING, notice_id

UTC = dt.UTC
D = decimal.Decimal
USCC = "91330100716105852F"
AS_OF = dt.date(2018, 6, 30)
_NS = uuid.UUID("0d6c2f0e-3a51-4c1b-9a0e-7e6f5d4c3b2a")
_FIELDS = {
    source: [f["name"] for f in json.loads(path.read_text(encoding="utf-8"))["fields"]]
    for source in ("enterprise", "tax", "trademark", "blacklist")
    for path in [Path(schemas.__file__).parent / "avro" / f"{source}_event.v1.avsc"]
}
_DEPARTMENT = {"enterprise": "SAMR", "tax": "SAT", "trademark": "SAMR", "blacklist": "SPC"}


def at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def ev(source: str, event_type: str, occurred: dt.datetime, **fields: Any) -> SourceEvent:
    """A decoded event of ``source``: every schema field present (None unless given); the
    event id is a UUIDv5 of the content unless given; reported an hour after it occurred."""
    record: dict[str, Any] = dict.fromkeys(_FIELDS[source])
    record |= {"uscc": USCC, "department": _DEPARTMENT[source], "event_type": event_type}
    record |= {"occurred_at": occurred, "reported_at": occurred + dt.timedelta(hours=1)}
    record |= fields
    if record["event_id"] is None:
        content = sorted((k, v) for k, v in record.items() if k != "event_id")
        record["event_id"] = str(uuid.uuid5(_NS, repr(content)))
    return SourceEvent(source, record)


def listed(sector: str, decision: str, on: dt.date, when: dt.datetime, **more: Any) -> SourceEvent:
    return ev(
        "blacklist", "LISTED", when, sector=sector, decision_no=decision,
        listing_department="SPC", listed_on=on, reason="拒不履行", **more,
    )  # fmt: skip


def removed(sector: str, decision: str, on: dt.date, when: dt.datetime, ground: str) -> SourceEvent:
    return ev(
        "blacklist", "REMOVED", when, sector=sector, decision_no=decision,
        listing_department="SPC", listed_on=on, removal_ground=ground, removed_on=when.date(),
    )  # fmt: skip


def shown(events: list[SourceEvent], as_of: dt.date = AS_OF) -> dict[str, Any]:
    """The rendered profile after folding ``events`` at ``as_of``."""
    profiles, _ = fold(events, as_of)
    return render(profiles[USCC], as_of)


def measures(sector: str) -> list[dict[str, str]]:
    return [
        {"code": m.code, "text_zh": m.text_zh, "text_en": m.text_en,
         "department": m.enforcing_department}
        for m in load_catalog().sector(sector).measures
    ]  # fmt: skip


# --- each source's facts land where expected -------------------------------------------


def test_identity_fields_are_separate_registers() -> None:
    """A change carries only what changed; each field keeps its own newest value, so a
    stale change still wins for a field nothing newer has written."""
    reg = ev("enterprise", "REGISTERED", at(2010, 1, 5), name="甲公司", size_class="SMALL",
             city_code="330100", established_on=dt.date(2010, 1, 5))  # fmt: skip
    rename = ev("enterprise", "CHANGED", at(2015, 3, 1), name="乙公司")
    stale = ev("enterprise", "CHANGED", at(2012, 1, 1), name="丙公司", size_class="MEDIUM")
    r = shown([reg, rename, stale])
    assert (r["name"], r["size_class"], r["city_code"]) == ("乙公司", "MEDIUM", "330100")
    assert (r["status"], r["established_on"]) == ("ACTIVE", dt.date(2010, 1, 5))


def test_deregistration_is_not_undone_by_an_older_registration() -> None:
    """DEREGISTERED sets the status; a registration that happened earlier cannot revive it."""
    reg = ev("enterprise", "REGISTERED", at(2010, 1, 5), name="甲公司")
    gone = ev("enterprise", "DEREGISTERED", at(2018, 1, 2))
    assert shown([gone, reg])["status"] == "DEREGISTERED"
    assert "deregistered" in {f["code"] for f in shown([reg, gone])["factors"]}


def zjtx(kind: str, level: str, year: int, when: dt.datetime) -> SourceEvent:
    return ev("enterprise", f"ZJTX_{kind}", when, zjtx_level=level, zjtx_year=year)


def test_zjtx_grant_and_revoke() -> None:
    """The highest level granted and not revoked shows; once all are revoked, the last."""
    prov = zjtx("GRANTED", "PROVINCIAL", 2016, at(2016, 5, 1))
    nat = zjtx("GRANTED", "NATIONAL", 2017, at(2017, 5, 1))
    nat_off = zjtx("REVOKED", "NATIONAL", 2017, at(2018, 1, 1))
    prov_off = zjtx("REVOKED", "PROVINCIAL", 2016, at(2018, 2, 1))
    assert shown([prov, nat])["zjtx"] == {"level": "NATIONAL", "year": 2017, "active": True}
    on = {"level": "PROVINCIAL", "year": 2016, "active": True}
    assert shown([prov, nat, nat_off])["zjtx"] == on
    everything = shown([prov, nat, nat_off, prov_off])
    assert everything["zjtx"] == {"level": "PROVINCIAL", "year": 2016, "active": False}
    assert shown([ev("enterprise", "REGISTERED", at(2010, 1, 5))])["zjtx"] is None


def grade(year: int, g: str, when: dt.datetime, **more: Any) -> SourceEvent:
    return ev("tax", "GRADE_ASSESSED", when, tax_year=year, grade=g, **more)


def repair(year: int, g: str, when: dt.datetime) -> SourceEvent:
    return ev("tax", "GRADE_REPAIRED", when, tax_year=year, grade=g)


def test_tax_grade_and_repair_newer_wins() -> None:
    """A repair newer than the assessment replaces its grade (flagged repaired, keeping the
    assessed score); a newer assessment replaces the repair; an older repair loses."""
    c16 = grade(2016, "C", at(2017, 4, 20), score=D("65.00"))
    b16 = repair(2016, "B", at(2017, 9, 1))
    r = shown([c16, b16])
    assert r["tax_grades"] == [
        {"year": 2016, "grade": "B", "score": D("65.00"), "direct_judgement": False,
         "repaired": True}
    ]  # fmt: skip
    assert r["tax_grade"] == "B"
    reassessed = grade(2016, "C", at(2018, 1, 10), score=D("60.00"))
    assert shown([c16, b16, reassessed])["tax_grades"][0]["repaired"] is False
    assert shown([b16, reassessed])["tax_grades"][0]["grade"] == "C"  # repair older: loses
    a17 = grade(2017, "A", at(2018, 4, 20), score=D("95.00"))
    r = shown([c16, b16, a17])
    assert [g["year"] for g in r["tax_grades"]] == [2016, 2017]
    assert r["tax_grade"] == "A"  # the latest year's grade


def test_tax_paid_per_year_newest_wins() -> None:
    """Tax paid is one register per year; a newer correction of a year replaces it."""
    y16 = ev("tax", "TAX_PAID", at(2017, 1, 10), tax_year=2016, amount=D("100000.00"))
    y17 = ev("tax", "TAX_PAID", at(2018, 1, 10), tax_year=2017, amount=D("200000.00"))
    fix16 = ev("tax", "TAX_PAID", at(2017, 6, 1), tax_year=2016, amount=D("120000.00"))
    assert shown([y17, fix16, y16])["tax_paid"] == [
        {"year": 2016, "amount": D("120000.00")},
        {"year": 2017, "amount": D("200000.00")},
    ]


def test_arrears_snapshot_then_zero_clears_it() -> None:
    """An arrears snapshot is the whole amount owed; a later snapshot of 0 clears it, and a
    stale snapshot arriving afterwards changes nothing."""
    owed = ev("tax", "ARREARS_SNAPSHOT", at(2017, 5, 1), amount=D("5000.00"),
              overdue_since=dt.date(2017, 3, 1))  # fmt: skip
    paid = ev("tax", "ARREARS_SNAPSHOT", at(2017, 8, 1), amount=D("0.00"))
    r = shown([owed])
    assert r["arrears_outstanding"] == D("5000.00")
    assert r["arrears_overdue_since"] == dt.date(2017, 3, 1)
    r = shown([owed, paid])
    assert (r["arrears_outstanding"], r["arrears_overdue_since"]) == (D("0.00"), None)
    assert shown([paid, owed])["arrears_outstanding"] == D("0.00")


def mark(kind: str, when: dt.datetime, number: str = "10205176", **more: Any) -> SourceEvent:
    return ev("trademark", kind, when, registration_no=number, **more)


def test_trademark_register_renew_expire_and_well_known() -> None:
    """Registration then renewal extends the term; expiry takes the mark out of force; a
    well-known recognition is counted while the mark is in force."""
    reg = mark("REGISTERED", at(2008, 1, 7), mark_name="大华", nice_class=9,
               valid_until=dt.date(2018, 1, 6))  # fmt: skip
    renew = mark("RENEWED", at(2017, 6, 1), valid_until=dt.date(2028, 1, 6))
    known = mark("WELL_KNOWN_RECOGNISED", at(2016, 3, 1), recognised_by="商标局")
    expire = mark("EXPIRED", at(2018, 3, 1))
    assert shown([reg])["trademark_count"] == 0  # term ended before as_of
    r = shown([reg, renew, known])
    assert r["trademarks"] == [
        {"registration_no": "10205176", "mark_name": "大华", "nice_class": 9,
         "status": "REGISTERED", "valid_until": dt.date(2028, 1, 6), "well_known": True,
         "pledges": []}
    ]  # fmt: skip
    assert (r["trademark_count"], r["well_known_count"]) == (1, 1)
    r = shown([reg, renew, known, expire])
    assert r["trademarks"][0]["status"] == "EXPIRED"
    assert (r["trademark_count"], r["well_known_count"]) == (0, 0)


def test_pledge_register_change_release() -> None:
    """A pledge shows under its mark with the newest terms while active; release ends it."""
    reg = mark("REGISTERED", at(2008, 1, 7), valid_until=dt.date(2028, 1, 6))
    pledge = {
        "pledge_no": "ZC2017-0042",
        "pledgee": "工商银行",
        "pledge_until": dt.date(2019, 4, 19),
    }
    on = mark("PLEDGE_REGISTERED", at(2017, 4, 20), secured_amount=D("5000000.00"), **pledge)
    change = mark("PLEDGE_CHANGED", at(2017, 10, 1), pledge_no="ZC2017-0042",
                  secured_amount=D("6000000.00"))  # fmt: skip
    off = mark("PLEDGE_RELEASED", at(2018, 4, 1), pledge_no="ZC2017-0042")
    r = shown([reg, on, change])
    assert r["trademarks"][0]["pledges"] == [
        {"pledge_no": "ZC2017-0042", "pledgee": "工商银行", "secured_amount": D("6000000.00"),
         "pledge_until": dt.date(2019, 4, 19)}
    ]  # fmt: skip
    assert (r["active_pledge_count"], r["pledged_amount"]) == (1, D("6000000.00"))
    r = shown([reg, on, change, off])
    assert (r["trademarks"][0]["pledges"], r["active_pledge_count"]) == ([], 0)
    assert r["pledged_amount"] == 0
    assert shown([reg, off, change, on])["active_pledge_count"] == 0  # any arrival order


def test_infringement_fines_keyed_by_decision() -> None:
    """Each infringement decision counts once, however often it is delivered."""
    fine = mark("INFRINGEMENT_PENALTY", at(2017, 2, 1), number="9999999",
                decision_no="杭市监罚〔2017〕12号", penalty_amount=D("250000.00"))  # fmt: skip
    other = mark("INFRINGEMENT_PENALTY", at(2017, 9, 1), number="9999999",
                 decision_no="杭市监罚〔2017〕98号", penalty_amount=D("10000.00"))  # fmt: skip
    assert shown([fine, fine])["infringement_penalty_count"] == 1
    assert shown([fine, other, fine])["infringement_penalty_count"] == 2


def test_listing_then_removal() -> None:
    """A listing in force shows with its sector's measures; its removal moves it to the
    history with the department's ground."""
    on = listed("court_defaulter", "(2017)浙0106执1234号", dt.date(2017, 4, 20), at(2017, 4, 20))
    off = removed("court_defaulter", "(2017)浙0106执1234号", dt.date(2017, 4, 20),
                  at(2018, 2, 1), "COURT_DELETION")  # fmt: skip
    r = shown([on])
    assert r["blacklist"] == [
        {"sector": "court_defaulter", "decision_no": "(2017)浙0106执1234号", "department": "SPC",
         "listed_on": dt.date(2017, 4, 20), "planned_end_on": None, "reason": "拒不履行"}
    ]  # fmt: skip
    assert [m["measure_code"] for m in r["penalties"]] == [
        m["code"] for m in measures("court_defaulter")
    ]
    r = shown([on, off])
    assert (r["blacklist"], r["penalties"]) == ([], [])
    assert r["blacklist_history"] == [
        {"sector": "court_defaulter", "decision_no": "(2017)浙0106执1234号", "department": "SPC",
         "listed_on": dt.date(2017, 4, 20), "ended_on": dt.date(2018, 2, 1),
         "ground": "COURT_DELETION"}
    ]  # fmt: skip


# --- supersession and the version counter ----------------------------------------------

_LISTED = listed("environment", "环罚1", dt.date(2017, 1, 1), at(2017, 1, 1))
_REMOVED = removed("environment", "环罚1", dt.date(2017, 1, 1), at(2017, 6, 1), "CREDIT_REPAIR")


@pytest.mark.parametrize(
    ("older", "newer", "look"),
    [
        (grade(2016, "B", at(2017, 4, 1)), grade(2016, "D", at(2017, 8, 1)), lambda r: r["tax_grade"]),
        (_LISTED, _REMOVED, lambda r: len(r["blacklist"])),
        (mark("REGISTERED", at(2010, 1, 1)), mark("REVOKED", at(2017, 1, 1)),
         lambda r: r["trademarks"][0]["status"]),
        (ev("enterprise", "CHANGED", at(2011, 1, 1), name="旧"),
         ev("enterprise", "CHANGED", at(2016, 1, 1), name="新"), lambda r: r["name"]),
    ],
    ids=["tax-grade", "listing", "mark-status", "identity"],
)  # fmt: skip
def test_an_older_fact_arriving_later_loses(
    older: SourceEvent, newer: SourceEvent, look: Any
) -> None:
    """The same key ends in the newer fact's value whichever arrives first."""
    assert look(shown([older, newer])) == look(shown([newer, older])) == look(shown([newer]))


def test_equal_occurred_at_is_broken_by_event_id_stably() -> None:
    """Two facts for one key at the same instant: the greater event id wins, in any order."""
    when = at(2017, 4, 20)
    low = grade(2016, "A", when, event_id="00000000-0000-5000-8000-000000000001")
    high = grade(2016, "C", when, event_id="00000000-0000-5000-8000-000000000002")
    assert shown([low, high])["tax_grade"] == shown([high, low])["tax_grade"] == "C"


def test_version_increments_only_on_change() -> None:
    """A duplicate, a resend (same id, reported later) and a superseded fact change
    nothing: same profile object, same version. A new fact adds one."""
    p0 = Profile(USCC)
    first = grade(2016, "B", at(2017, 4, 20))
    p1, _ = apply(p0, first, AS_OF)
    assert p1.version == 1
    resend = SourceEvent("tax", first.event | {"reported_at": at(2018, 1, 1)})
    stale = grade(2016, "C", at(2017, 1, 1))
    for same in (first, resend, stale):
        assert apply(p1, same, AS_OF) == (p1, [])
        assert apply(p1, same, AS_OF)[0] is p1
    assert sweep(p1, AS_OF)[0] is p1
    p2, _ = apply(p1, grade(2017, "A", at(2018, 4, 20)), AS_OF)
    assert p2.version == 2


# --- listings against the clock --------------------------------------------------------


def test_planned_end_already_past_when_learned_gives_no_notice() -> None:
    """A listing whose planned end is on or before the clock was never in force here: no
    notice, and it shows in the history as ended by its planned end."""
    late = listed("major_tax_violation", "税罚9", dt.date(2015, 1, 10), at(2015, 1, 10),
                  planned_end_on=dt.date(2018, 1, 10))  # fmt: skip
    profile, notices = apply(Profile(USCC), late, AS_OF)
    assert notices == []
    assert profile.in_force == frozenset()
    r = render(profile, AS_OF)
    assert r["blacklist"] == []
    assert r["blacklist_history"][0]["ground"] == "PLANNED_END_REACHED"
    assert r["blacklist_history"][0]["ended_on"] == dt.date(2018, 1, 10)


def test_sweep_lifts_a_listing_when_the_clock_reaches_its_planned_end() -> None:
    """IMPOSED when learned; sweeps before the end do nothing; the sweep on the end date
    gives one LIFTED (due at that Beijing midnight, no source event); then nothing more.
    A removal reported instead would have given the same notice id."""
    key = ("major_tax_violation", "税罚9", dt.date(2015, 1, 10))
    event = listed(*key, at(2015, 1, 10), planned_end_on=dt.date(2018, 1, 10))
    profile, notices = apply(Profile(USCC), event, dt.date(2017, 6, 1))
    assert [n["kind"] for n in notices] == ["IMPOSED"]
    assert next_due(profile) == dt.date(2018, 1, 10)
    assert sweep(profile, dt.date(2018, 1, 9)) == (profile, [])
    swept, notices = sweep(profile, dt.date(2018, 1, 10))
    midnight = dt.datetime(2018, 1, 10, tzinfo=BEIJING)
    assert notices == [
        {"notice_id": notice_id(USCC, "LIFTED", key[0], key[1], "2015-01-10"), "kind": "LIFTED",
         "uscc": USCC, "sector": key[0], "decision_no": key[1], "listing_department": "SPC",
         "listed_on": key[2], "measures": measures(key[0]), "sectors": [key[0]],
         "reason": "listing ended on 2018-01-10: PLANNED_END_REACHED",
         "effective_at": midnight, "source_event_id": None, "reported_at": midnight}
    ]  # fmt: skip
    assert swept.version == profile.version + 1
    assert (swept.in_force, next_due(swept)) == (frozenset(), None)
    assert sweep(swept, AS_OF)[1] == []
    _, by_event = apply(profile, removed(*key, at(2018, 1, 10), "EXPIRY"), dt.date(2018, 1, 9))
    assert [n["notice_id"] for n in by_event] == [notices[0]["notice_id"]]


def test_imposed_notice_fields() -> None:
    """Every field of IMPOSED comes from the fact and the catalog, not the clock."""
    event = listed(
        "court_defaulter", "(2017)浙0106执1234号", dt.date(2017, 4, 20), at(2017, 4, 20, 3)
    )
    _, notices = apply(Profile(USCC), event, AS_OF)
    assert notices == [
        {"notice_id": notice_id(USCC, "IMPOSED", "court_defaulter", "(2017)浙0106执1234号", "2017-04-20"),
         "kind": "IMPOSED", "uscc": USCC, "sector": "court_defaulter",
         "decision_no": "(2017)浙0106执1234号", "listing_department": "SPC",
         "listed_on": dt.date(2017, 4, 20), "measures": measures("court_defaulter"),
         "sectors": ["court_defaulter"],
         "reason": "listed on the 失信被执行人 list (court_defaulter) by SPC, (2017)浙0106执1234号",
         "effective_at": at(2017, 4, 20, 3), "source_event_id": event.event["event_id"],
         "reported_at": at(2017, 4, 20, 4)}
    ]  # fmt: skip
    assert apply(Profile(USCC), event, dt.date(2019, 1, 1))[1] == notices  # clock-free


def test_lifted_by_removal_names_the_removal() -> None:
    """A removal gives LIFTED effective when the removal occurred, naming its event."""
    on = listed("environment", "环罚1", dt.date(2017, 1, 1), at(2017, 1, 1))
    off = removed("environment", "环罚1", dt.date(2017, 1, 1), at(2017, 6, 1, 2), "CREDIT_REPAIR")
    _, notices = fold([on, off], AS_OF)
    lifted = notices[1]
    assert (lifted["kind"], lifted["source_event_id"]) == ("LIFTED", off.event["event_id"])
    assert (lifted["effective_at"], lifted["reported_at"]) == (at(2017, 6, 1, 2), at(2017, 6, 1, 3))
    assert lifted["reason"] == "listing ended on 2017-06-01: CREDIT_REPAIR"


def test_escalated_only_when_going_from_under_two_sectors_to_two_or_more() -> None:
    """A second listing in the same sector does not escalate; a second sector does (with
    every sector's measures, once each); a third does not; dropping back to one sector and
    adding another escalates again."""
    court_a = listed("court_defaulter", "A", dt.date(2017, 1, 1), at(2017, 1, 1))
    court_b = listed("court_defaulter", "B", dt.date(2017, 2, 1), at(2017, 2, 1))
    tax_c = listed("major_tax_violation", "C", dt.date(2017, 3, 1), at(2017, 3, 1))
    env_d = listed("environment", "D", dt.date(2017, 4, 1), at(2017, 4, 1))
    p, kinds = Profile(USCC), []
    for event in (court_a, court_b, tax_c, env_d):
        p, notices = apply(p, event, AS_OF)
        kinds.append([n["kind"] for n in notices])
    assert kinds == [["IMPOSED"], ["IMPOSED"], ["IMPOSED", "ESCALATED"], ["IMPOSED"]]
    _, notices = fold([court_a, court_b, tax_c], AS_OF)
    escalated = notices[-1]
    both = ["court_defaulter", "major_tax_violation"]
    union: dict[tuple[str, str], dict[str, str]] = {}
    for m in measures(both[0]) + measures(both[1]):
        union.setdefault((m["code"], m["department"]), m)
    keys = ["court_defaulter/A/2017-01-01", "court_defaulter/B/2017-02-01",
            "major_tax_violation/C/2017-03-01"]  # fmt: skip
    assert escalated == {
        "notice_id": notice_id(USCC, "ESCALATED", *keys), "kind": "ESCALATED", "uscc": USCC,
        "sector": None, "decision_no": None, "listing_department": None, "listed_on": None,
        "measures": list(union.values()), "sectors": both,
        "reason": "listed in 2 key sectors at once: court_defaulter, major_tax_violation",
        "effective_at": at(2017, 3, 1), "source_event_id": tax_c.event["event_id"],
        "reported_at": at(2017, 3, 1, 1),
    }  # fmt: skip
    for k in (
        ("major_tax_violation", "C", dt.date(2017, 3, 1)),
        ("environment", "D", dt.date(2017, 4, 1)),
    ):
        event = removed(*k, at(2017, 5, 1), "CREDIT_REPAIR")
        p, notices = apply(p, event, AS_OF)
        assert [n["kind"] for n in notices] == ["LIFTED"]
    p, notices = apply(p, listed("food_drug", "E", dt.date(2017, 6, 1), at(2017, 6, 1)), AS_OF)
    assert [n["kind"] for n in notices] == ["IMPOSED", "ESCALATED"]


def test_notices_of_one_change_are_ordered_lifted_imposed_escalated() -> None:
    """When the clock moves past one end while a new sector arrives, the order is stable."""
    ending = listed("court_defaulter", "A", dt.date(2016, 1, 1), at(2016, 1, 1),
                    planned_end_on=dt.date(2018, 1, 1))  # fmt: skip
    p, _ = apply(Profile(USCC), ending, dt.date(2017, 1, 1))
    p, _ = apply(
        p, listed("environment", "B", dt.date(2016, 6, 1), at(2016, 6, 1)), dt.date(2017, 1, 1)
    )
    _, notices = apply(p, listed("food_drug", "C", dt.date(2018, 2, 1), at(2018, 2, 1)), AS_OF)
    assert [(n["kind"], n["sector"]) for n in notices] == [
        ("LIFTED", "court_defaulter"),
        ("IMPOSED", "food_drug"),
    ]


def test_replaying_the_same_events_gives_identical_notices() -> None:
    """Notices (ids and content) are a function of the events and the clock only."""
    events = [
        listed("court_defaulter", "A", dt.date(2017, 1, 1), at(2017, 1, 1)),
        listed("major_tax_violation", "C", dt.date(2017, 3, 1), at(2017, 3, 1),
               planned_end_on=dt.date(2020, 3, 1)),
        removed("court_defaulter", "A", dt.date(2017, 1, 1), at(2017, 9, 1), "COURT_DELETION"),
        grade(2016, "D", at(2017, 4, 20)),
    ]  # fmt: skip
    first, second = fold(events, AS_OF)[1], fold(list(events), AS_OF)[1]
    assert [n["kind"] for n in first] == ["IMPOSED", "IMPOSED", "ESCALATED", "LIFTED"]
    assert first == second
    assert len({n["notice_id"] for n in first}) == len(first)
