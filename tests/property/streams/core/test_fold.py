"""Properties of the fold (BRIEF principle 1): idempotence, order-freedom, commutation of
the five sources, supersession by effective time, stable notices, scorecard bounds.

The strategies make random event lists for ONE enterprise from small pools of natural
keys (2 tax years, 2 registration numbers, 2 pledge numbers, 2 infringement decisions,
3 listing keys over 2 sectors, 2 patent numbers, 2 patent pledge numbers) and 4 occurred_at instants, so same-key collisions and
same-instant ties are common. An event id is a UUIDv5 of the event's content, as the
producers derive it, so the same fact always has the same id.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import Profile, SourceEvent, apply, fold, render, score

UTC = dt.UTC
D = decimal.Decimal
USCC = "91330100716105852F"
AS_OF = dt.date(2018, 6, 30)
_NS = uuid.UUID("1e2d3c4b-5a69-4788-9a0b-c1d2e3f40516")
INSTANTS = [
    dt.datetime(y, m, 1, 9, tzinfo=UTC) for y, m in ((2016, 7), (2017, 2), (2017, 9), (2018, 3))
]
YEARS = st.sampled_from([2016, 2017])
MARKS = st.sampled_from(["10000001", "10000002"])
LISTING_KEYS = [("court_defaulter", "(2017)执1号"), ("court_defaulter", "(2017)执2号"),
                ("environment", "环罚〔2017〕3号")]  # fmt: skip
LEAD = {"court_defaulter": "SPC", "environment": "MEE", "wage_arrears": "MOHRSS"}
SOURCES = ("enterprise", "tax", "trademark", "blacklist", "patent")
# Two valid numbers (schemas/patent_no.py): an invention and a utility model of 2017.
PATENTS = {"201710601862.3": "INVENTION", "201720601862.9": "UTILITY_MODEL"}
OTHER_FIRM = "91330000727215176K"


def nullable(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([None, *values])


def dated(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


_BY_SOURCE: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "enterprise": st.one_of(
        st.fixed_dictionaries({
            "event_type": st.sampled_from(["REGISTERED", "CHANGED", "DEREGISTERED"]),
            "name": nullable("甲公司", "乙公司"), "size_class": nullable("SMALL", "LARGE"),
            "established_on": nullable(dated("2009-05-01"), dated("2017-05-01")),
        }),
        st.fixed_dictionaries({
            "event_type": st.sampled_from(["ZJTX_GRANTED", "ZJTX_REVOKED"]),
            "zjtx_level": st.sampled_from(["PROVINCIAL", "NATIONAL"]), "zjtx_year": YEARS,
        }),
    ),
    "tax": st.one_of(
        st.fixed_dictionaries({"event_type": st.just("GRADE_ASSESSED"), "tax_year": YEARS,
                               "grade": st.sampled_from("ABMCD"), "direct_judgement": st.booleans()}),
        st.fixed_dictionaries({"event_type": st.just("GRADE_REPAIRED"), "tax_year": YEARS,
                               "grade": st.sampled_from("BMC")}),
        st.fixed_dictionaries({"event_type": st.just("TAX_PAID"), "tax_year": YEARS,
                               "amount": st.sampled_from([D("0.00"), D("50000.00"), D("2000000.00")])}),
        st.fixed_dictionaries({"event_type": st.just("ARREARS_SNAPSHOT"),
                               "amount": st.sampled_from([D("0.00"), D("5000.00")]),
                               "overdue_since": nullable(dated("2017-03-01"))}),
    ),
    "trademark": st.one_of(
        st.fixed_dictionaries({
            "event_type": st.sampled_from(["REGISTERED", "RENEWED", "EXPIRED", "CANCELLED",
                                           "REVOKED", "INVALIDATED"]),
            "registration_no": MARKS, "mark_name": nullable("大华"),
            "valid_until": nullable(dated("2018-01-01"), dated("2027-01-01")),
        }),
        st.fixed_dictionaries({"event_type": st.just("WELL_KNOWN_RECOGNISED"),
                               "registration_no": MARKS, "recognised_by": nullable("商标局")}),
        st.fixed_dictionaries({
            "event_type": st.sampled_from(["PLEDGE_REGISTERED", "PLEDGE_CHANGED", "PLEDGE_RELEASED"]),
            "registration_no": MARKS, "pledge_no": st.sampled_from(["ZC-1", "ZC-2"]),
            "pledgee": nullable("工商银行"), "secured_amount": nullable(D("1000000.00"), D("3000000.00")),
        }),
        st.fixed_dictionaries({"event_type": st.just("INFRINGEMENT_PENALTY"),
                               "registration_no": MARKS, "decision_no": st.sampled_from(["罚1", "罚2"]),
                               "penalty_amount": st.sampled_from([D("10000.00"), D("250000.00")])}),
    ),
    "blacklist": st.tuples(st.sampled_from(LISTING_KEYS), st.booleans()).flatmap(
        lambda key_listed: st.fixed_dictionaries({
            "event_type": st.just("LISTED" if key_listed[1] else "REMOVED"),
            "sector": st.just(key_listed[0][0]), "decision_no": st.just(key_listed[0][1]),
            "listing_department": st.just(LEAD[key_listed[0][0]]),
            "listed_on": st.sampled_from([dated("2016-06-01"), dated("2017-02-01")]),
            "planned_end_on": nullable(dated("2018-03-01"), dated("2019-03-01")),
            **({"reason": nullable("拒不履行")} if key_listed[1] else {
                "removal_ground": st.sampled_from(["EXPIRY", "CREDIT_REPAIR", "COURT_DELETION"]),
                "removed_on": st.sampled_from([dated("2017-10-01"), dated("2018-04-01")])}),
        })
    ),
    "patent": st.sampled_from(sorted(PATENTS)).flatmap(lambda number: st.one_of(
        st.fixed_dictionaries({
            "event_type": st.just("GRANTED"), "patent_no": st.just(number),
            "patent_kind": st.just(PATENTS[number]), "title": nullable("一种方法"),
            "application_date": st.just(dated("2017-03-01")),
            "grant_date": st.just(dated("2018-01-15")),
        }),
        st.fixed_dictionaries({"event_type": st.sampled_from(["LAPSED", "RESTORED"]),
                               "patent_no": st.just(number)}),
        st.fixed_dictionaries({
            "event_type": st.just("TRANSFERRED_OUT"), "patent_no": st.just(number),
            "patent_kind": st.just(PATENTS[number]), "title": st.just("一种方法"),
            "transferor_uscc": st.just(USCC), "transferee_uscc": st.just(OTHER_FIRM),
        }),
        st.fixed_dictionaries({
            "event_type": st.just("TRANSFERRED_IN"), "patent_no": st.just(number),
            "patent_kind": st.just(PATENTS[number]), "title": st.just("一种方法"),
            "transferor_uscc": st.just(OTHER_FIRM), "transferee_uscc": st.just(USCC),
        }),
        st.fixed_dictionaries({
            "event_type": st.sampled_from(["PLEDGE_REGISTERED", "PLEDGE_CHANGED", "PLEDGE_RELEASED"]),
            "patent_no": st.just(number), "pledge_no": st.sampled_from(["ZX-1", "ZX-2"]),
            "pledgee": nullable("建设银行"), "secured_amount": nullable(D("800000.00")),
            "pledge_until": nullable(dated("2020-01-01")),
        }),
        st.fixed_dictionaries({"event_type": st.just("INVALIDATED"), "patent_no": st.just(number),
                               "decision_no": st.just("第1号"), "partial": nullable(True, False)}),
    )),
}  # fmt: skip


def make(source: str, fields: dict[str, Any], occurred: dt.datetime, delay: int) -> SourceEvent:
    """A decoded event: the given fields, reported ``delay`` days after it occurred."""
    record = {"uscc": USCC, "department": "SAMR", "occurred_at": occurred,
              "reported_at": occurred + dt.timedelta(days=delay), **fields}  # fmt: skip
    record["event_id"] = str(uuid.uuid5(_NS, repr(sorted(record.items()))))
    return SourceEvent(source, record)


def events_of(source: str) -> st.SearchStrategy[SourceEvent]:
    return st.builds(
        make, st.just(source), _BY_SOURCE[source], st.sampled_from(INSTANTS),
        st.sampled_from([0, 3, 40]),
    )  # fmt: skip


EVENTS = st.lists(st.one_of([events_of(s) for s in SOURCES]), max_size=24)


def folded(events: list[SourceEvent]) -> tuple[Profile, list[dict[str, Any]]]:
    profiles, notices = fold(events, AS_OF)
    return profiles.get(USCC, Profile(USCC)), notices


def shown(events: list[SourceEvent]) -> dict[str, Any]:
    return render(folded(events)[0], AS_OF)


def stamp(e: SourceEvent) -> tuple[dt.datetime, str]:
    return (e.event["occurred_at"], e.event["event_id"])


def winner(
    events: list[SourceEvent], keep: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """The newest (occurred_at, event_id) of the events ``keep`` selects."""
    chosen = [e for e in events if keep(e.event)]
    return max(chosen, key=stamp).event if chosen else None


# Bookkeeping that counts arrivals rather than facts: ``version`` counts the applications
# that changed something, and ``last_reported_at`` is the newest reported_at of those. A
# superseded fact arriving first is one more change (and its reported_at counts); arriving
# last it is a no-op. Every fact-derived field must be order-free.
ARRIVAL_BOOKKEEPING = ("version", "last_reported_at")


def facts_only(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ARRIVAL_BOOKKEEPING}


@given(events=EVENTS)
def test_idempotence_each_event_twice_is_the_same_as_once(events: list[SourceEvent]) -> None:
    """(a) A redelivery right after the original changes nothing: not the render (version
    included) and not the notices."""
    once, once_notices = folded(events)
    twice, twice_notices = folded([e for e in events for _ in (0, 1)])
    assert render(twice, AS_OF) == render(once, AS_OF)
    assert twice_notices == once_notices


@given(events=EVENTS, data=st.data())
def test_render_is_independent_of_event_order(
    events: list[SourceEvent], data: st.DataObject
) -> None:
    """(b) Any permutation of the same facts renders the same profile at a fixed clock
    (except the arrival bookkeeping; notices are not compared: they follow blacklist order)."""
    shuffled = data.draw(st.permutations(events))
    assert facts_only(shown(shuffled)) == facts_only(shown(events))


@given(events=EVENTS, data=st.data())
def test_sources_commute(events: list[SourceEvent], data: st.DataObject) -> None:
    """(c) Interleaving the five sources differently, each keeping its own order (as five
    co-partitioned topics may be consumed), gives identical notices and an identical
    render, version and last_reported_at included."""
    lanes = {s: [e for e in events if e.source == s] for s in SOURCES}
    order = data.draw(st.permutations([e.source for e in events]))
    cursor = dict.fromkeys(SOURCES, 0)
    interleaved = []
    for source in order:
        interleaved.append(lanes[source][cursor[source]])
        cursor[source] += 1
    (p1, n1), (p2, n2) = folded(events), folded(interleaved)
    assert n2 == n1
    assert render(p2, AS_OF) == render(p1, AS_OF)


def _grade(events: list[SourceEvent], year: int) -> tuple[str, bool] | None:
    assessed = winner(
        events, lambda e: e["event_type"] == "GRADE_ASSESSED" and e["tax_year"] == year
    )
    repaired = winner(
        events, lambda e: e["event_type"] == "GRADE_REPAIRED" and e["tax_year"] == year
    )
    if repaired and (not assessed or (repaired["occurred_at"], repaired["event_id"])
                     > (assessed["occurred_at"], assessed["event_id"])):  # fmt: skip
        return repaired["grade"], True
    return (assessed["grade"], False) if assessed else None


@given(events=EVENTS, data=st.data())
def test_the_newest_fact_per_key_decides(events: list[SourceEvent], data: st.DataObject) -> None:
    """(d) For every natural key, the value shown is the one of the fact with the greatest
    (occurred_at, event_id), whatever order the facts arrived in."""
    r = shown(data.draw(st.permutations(events)))
    for year in (2016, 2017):
        row = next((g for g in r["tax_grades"] if g["year"] == year), None)
        assert (row and (row["grade"], row["repaired"])) == (_grade(events, year) or None)
        paid = winner(
            events, lambda e, y=year: e["event_type"] == "TAX_PAID" and e["tax_year"] == y
        )
        assert {t["year"]: t["amount"] for t in r["tax_paid"]}.get(year) == (
            paid and paid["amount"]
        )
    arrears = winner(events, lambda e: e["event_type"] == "ARREARS_SNAPSHOT")
    assert r["arrears_outstanding"] == (arrears["amount"] if arrears else D("0.00"))
    named = winner(events, lambda e: e.get("name") is not None)
    assert r["name"] == (named and named["name"])
    for number in ("10000001", "10000002"):
        status = winner(events, lambda e, n=number: e.get("registration_no") == n
                        and e["event_type"] in ("REGISTERED", "RENEWED", "EXPIRED", "CANCELLED",
                                                "REVOKED", "INVALIDATED"))  # fmt: skip
        shown_status = {m["registration_no"]: m["status"] for m in r["trademarks"]}.get(number)
        if status is not None:
            assert shown_status == status["event_type"].replace("RENEWED", "REGISTERED")
    current = {(x["sector"], x["decision_no"]) for x in r["blacklist"]}
    for key in LISTING_KEYS:
        last = winner(events, lambda e, k=key: (e.get("sector"), e.get("decision_no")) == k)
        expected = (last is not None and last["event_type"] == "LISTED"
                    and (last["planned_end_on"] is None or last["planned_end_on"] > AS_OF))  # fmt: skip
        assert (key in current) is expected
    _patents_decided_by_the_newest_fact(events, r)


def _patents_decided_by_the_newest_fact(events: list[SourceEvent], r: dict[str, Any]) -> None:
    shown_patents = {x["patent_no"]: x for x in r["patents"]}
    for number in PATENTS:
        about = [e for e in events if e.event.get("patent_no") == number
                 and not e.event["event_type"].startswith("PLEDGE_")]  # fmt: skip
        assert (number in shown_patents) is bool(about)
        if not about:
            continue
        holding = winner(about, lambda e: e["event_type"] in
                         ("GRANTED", "TRANSFERRED_IN", "TRANSFERRED_OUT"))  # fmt: skip
        annuity = winner(about, lambda e: e["event_type"] in ("LAPSED", "RESTORED"))
        invalid = winner(about, lambda e: e["event_type"] == "INVALIDATED")
        if holding is not None and holding["event_type"] == "TRANSFERRED_OUT":
            expected = "TRANSFERRED_OUT"
        elif invalid is not None and not invalid["partial"]:
            expected = "INVALIDATED"
        elif annuity is not None and annuity["event_type"] == "LAPSED":
            expected = "LAPSED"
        else:  # both numbers' terms run past AS_OF when known
            expected = "IN_FORCE"
        assert shown_patents[number]["status"] == expected, number
    # An active pledge shows under every shown patent it covers, a released one nowhere.
    for pledge_no in ("ZX-1", "ZX-2"):
        last = winner(events, lambda e, n=pledge_no: e.get("pledge_no") == n
                      and e["event_type"] in ("PLEDGE_REGISTERED", "PLEDGE_RELEASED"))  # fmt: skip
        active = last is not None and last["event_type"] == "PLEDGE_REGISTERED"
        covered = {e.event["patent_no"] for e in events if e.event.get("pledge_no") == pledge_no}
        for number, patent in shown_patents.items():
            listed = pledge_no in {x["pledge_no"] for x in patent["pledges"]}
            assert listed is (active and number in covered), (pledge_no, number)
    in_force = [x for x in r["patents"] if x["status"] == "IN_FORCE"]
    assert r["invention_patent_count"] + r["utility_model_patent_count"] == len(in_force)


@given(events=EVENTS)
def test_notices_are_stable_under_replay(events: list[SourceEvent]) -> None:
    """(e) Folding the same stream twice gives the same notices, ids included; replaying
    it into the profile it produced gives no notice and changes nothing."""
    profile, notices = folded(events)
    assert folded(list(events))[1] == notices
    again = profile
    for event in events:
        again, more = apply(again, event, AS_OF)
        assert more == []
    assert again is profile


@given(events=EVENTS, data=st.data())
@settings(max_examples=150)
def test_score_bounds_and_a_new_listing_never_helps(
    events: list[SourceEvent], data: st.DataObject
) -> None:
    """(f) 0 <= score <= 1000; a new listing in force (a LISTED fact for a key never seen,
    no planned end), arriving at any point in the stream, never raises the score and
    always makes the grade POOR."""
    before = score(folded(events)[0], AS_OF)
    assert 0 <= before.score <= 1000
    fields = {"event_type": "LISTED", "sector": "wage_arrears", "decision_no": "欠薪〔2018〕1号",
              "listing_department": "MOHRSS", "listed_on": data.draw(st.sampled_from(
                  [dated("2015-01-01"), dated("2018-06-30")])), "planned_end_on": None}  # fmt: skip
    new = make("blacklist", fields, data.draw(st.sampled_from(INSTANTS)), 1)
    at = data.draw(st.integers(0, len(events)))
    after = score(folded([*events[:at], new, *events[at:]])[0], AS_OF)
    assert 0 <= after.score <= before.score
    assert after.grade == "POOR"
