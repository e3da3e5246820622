"""The fold: ``apply(profile, event, as_of) -> (profile, notices)``.

Each event is a fact with a natural key (BRIEF principle 1), written into the profile's
register for that key only if it is newer by effective time (see
:mod:`streams.core.state`). After every event the listings are evaluated at the clock
``as_of``; the notices are the difference from the previous evaluation
(:mod:`streams.core.notices`). :func:`sweep` does the same evaluation with no event, for
listings whose planned end date has come.

The clock is injected: a replay of old data with an old ``as_of`` gives the old answers.
Pure: no I/O, and the input profile is never changed.

Example::

    profile, notices = apply(Profile(uscc), SourceEvent("blacklist", event), as_of=today)
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from schemas.sectors import SectorCatalog, load_catalog
from streams.core.listings import evaluate
from streams.core.notices import diff_notices
from streams.core.state import EMPTY, Profile, Reg, Stamp, evolve, merge, put

__all__ = ["SourceEvent", "apply", "fold", "stamp_of", "sweep"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class SourceEvent(NamedTuple):
    """A decoded, validated input event and the source (topic role) it came from."""

    source: str  # enterprise, tax, trademark, blacklist or patent
    event: Mapping[str, Any]


def _ms(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def stamp_of(event: Mapping[str, Any]) -> Stamp:
    """The event's effective time and its stable tie-break."""
    return (_ms(event["occurred_at"]), str(event["event_id"]))


Changes = dict[str, Any]
Folder = Callable[[Profile, Stamp, Mapping[str, Any]], Changes]
"""A source's folder: the fields of the profile its event changes, ``{}`` if none."""


def _set(p: Profile, name: str, value: Any) -> Changes:
    """``{name: value}``, or ``{}`` if the field already is that very object (a duplicate or
    a superseded fact must change nothing, so that it does not bump ``version``)."""
    return {} if getattr(p, name) is value else {name: value}


_IDENTITY_FIELDS = (
    "name",
    "city_code",
    "district_code",
    "industry_section",
    "industry_code",
    "size_class",
    "established_on",
    "registered_capital",
)
_STATUS = {"REGISTERED": "ACTIVE", "DEREGISTERED": "DEREGISTERED"}


def _enterprise(p: Profile, stamp: Stamp, e: Mapping[str, Any]) -> Changes:
    kind = e["event_type"]
    if kind in ("ZJTX_GRANTED", "ZJTX_REVOKED"):
        granted = (kind == "ZJTX_GRANTED", e["zjtx_year"])
        return _set(p, "zjtx", merge(p.zjtx, stamp, {e["zjtx_level"]: granted}))
    # A change carries only what changed: every field is a register of its own.
    values = {f: e[f] for f in _IDENTITY_FIELDS if e.get(f) is not None}
    if kind in _STATUS:
        values["status"] = _STATUS[kind]
    return _set(p, "identity", merge(p.identity, stamp, values))


def _newer(table: Mapping[Any, Reg], key: Any, stamp: Stamp, value: Any) -> Mapping[Any, Reg]:
    old = table.get(key)
    return put(table, key, (stamp, value)) if old is None or stamp > old[0] else table


def _tax(p: Profile, stamp: Stamp, e: Mapping[str, Any]) -> Changes:
    kind, year = e["event_type"], e.get("tax_year")
    if kind == "GRADE_ASSESSED":
        value = (e["grade"], e.get("score"), bool(e.get("direct_judgement")))
        return _set(p, "assessed", _newer(p.assessed, year, stamp, value))
    if kind == "GRADE_REPAIRED":
        return _set(p, "repaired", _newer(p.repaired, year, stamp, e["grade"]))
    if kind == "TAX_PAID":
        return _set(p, "tax_paid", _newer(p.tax_paid, year, stamp, e["amount"]))
    # ARREARS_SNAPSHOT: the whole amount outstanding now (0 = paid up).
    if p.arrears is not None and stamp <= p.arrears[0]:
        return {}
    return {"arrears": (stamp, (e["amount"], e.get("overdue_since")))}


_MARK_STATUS = {
    "REGISTERED": "REGISTERED",
    "RENEWED": "REGISTERED",
    "EXPIRED": "EXPIRED",
    "CANCELLED": "CANCELLED",
    "REVOKED": "REVOKED",
    "INVALIDATED": "INVALIDATED",
}
_PLEDGE_ACTIVE = {"PLEDGE_REGISTERED": True, "PLEDGE_RELEASED": False}


def _present(e: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {n: e[n] for n in names if e.get(n) is not None}


def _trademark(p: Profile, stamp: Stamp, e: Mapping[str, Any]) -> Changes:
    kind, number = e["event_type"], e["registration_no"]
    if kind == "INFRINGEMENT_PENALTY":  # a fine for infringing someone else's mark
        fines = _newer(p.infringements, e["decision_no"], stamp, e["penalty_amount"])
        return _set(p, "infringements", fines)
    if kind.startswith("PLEDGE_"):
        values = {"registration_no": number}
        values |= _present(e, "pledgee", "secured_amount", "pledge_until")
        if kind in _PLEDGE_ACTIVE:
            values["active"] = _PLEDGE_ACTIVE[kind]
        pledge_no = e["pledge_no"]
        regs = merge(p.pledges.get(pledge_no, EMPTY), stamp, values)
        return _set(p, "pledges", put(p.pledges, pledge_no, regs))
    values = _present(e, "mark_name", "nice_class", "valid_until")
    if kind in _MARK_STATUS:
        values["status"] = _MARK_STATUS[kind]
    else:  # WELL_KNOWN_RECOGNISED
        values["well_known"] = e.get("recognised_by") or True
    regs = merge(p.marks.get(number, EMPTY), stamp, values)
    return _set(p, "marks", put(p.marks, number, regs))


def _blacklist(p: Profile, stamp: Stamp, e: Mapping[str, Any]) -> Changes:
    listed = e["event_type"] == "LISTED"
    reported = _ms(e["reported_at"])
    values: dict[str, Any] = {
        "active": (listed, reported),
        "department": e["listing_department"],
        "listed_on": e["listed_on"],
        "planned_end_on": e.get("planned_end_on"),
    }
    if listed:
        values["reason"] = e.get("reason")
    else:
        values |= {"ground": e["removal_ground"], "removed_on": e["removed_on"]}
    key = (e["sector"], e["decision_no"])
    regs = merge(p.listings.get(key, EMPTY), stamp, values)
    return _set(p, "listings", put(p.listings, key, regs))


_HOLDING = {"GRANTED": True, "TRANSFERRED_IN": True, "TRANSFERRED_OUT": False}
_ANNUITY = {"LAPSED": "LAPSED", "RESTORED": "PAID"}
_PARTICULARS = ("patent_kind", "title", "application_date", "grant_date")


def _patent(p: Profile, stamp: Stamp, e: Mapping[str, Any]) -> Changes:
    kind, number = e["event_type"], e["patent_no"]
    if kind.startswith("PLEDGE_"):
        # One pledge may cover several patents, one event each: every event marks the
        # patent it names as covered; the pledge's own registers are shared.
        values = _present(e, "pledgee", "secured_amount", "pledge_from", "pledge_until")
        values[f"patent:{number}"] = True
        if kind in _PLEDGE_ACTIVE:
            values["active"] = _PLEDGE_ACTIVE[kind]
        pledge_no = e["pledge_no"]
        regs = merge(p.patent_pledges.get(pledge_no, EMPTY), stamp, values)
        return _set(p, "patent_pledges", put(p.patent_pledges, pledge_no, regs))
    values = _present(e, *_PARTICULARS)
    if kind in _HOLDING:  # who holds it: the newest grant or transfer decides
        values["held"] = _HOLDING[kind]
        if kind == "TRANSFERRED_OUT":
            values["transferred_to"] = e["transferee_uscc"]
        elif kind == "TRANSFERRED_IN":
            values["transferred_from"] = e["transferor_uscc"]
    elif kind in _ANNUITY:
        values["annuity"] = _ANNUITY[kind]
    else:  # INVALIDATED: a partial decision leaves the patent in force
        values["invalidation"] = (e["decision_no"], bool(e.get("partial")))
    regs = merge(p.patents.get(number, EMPTY), stamp, values)
    return _set(p, "patents", put(p.patents, number, regs))


_FOLDERS: Mapping[str, Folder] = {
    "enterprise": _enterprise,
    "tax": _tax,
    "trademark": _trademark,
    "blacklist": _blacklist,
    "patent": _patent,
}


@functools.cache
def _default_catalog() -> SectorCatalog:
    return load_catalog()


def _evaluate(
    before: Profile, changes: Changes, as_of: dt.date, catalog: SectorCatalog
) -> tuple[Profile, list[dict[str, Any]]]:
    """Evaluate the listings at ``as_of`` after ``changes``; one new profile if anything
    changed (its version one higher), else ``before`` itself."""
    listings_now = changes.get("listings", before.listings)
    notices: list[dict[str, Any]] = []
    if listings_now or before.in_force:
        evaluated = {x.key: x for x in evaluate(listings_now, as_of)}
        notices = diff_notices(before.uscc, before.in_force, evaluated, catalog)
        in_force = frozenset(k for k, x in evaluated.items() if x.in_force)
        if in_force != before.in_force:
            changes["in_force"] = in_force
    if not changes:
        return before, notices
    changes["as_of"] = as_of
    changes["version"] = before.version + 1
    return evolve(before, changes), notices


def apply(
    profile: Profile,
    event: SourceEvent,
    as_of: dt.date,
    catalog: SectorCatalog | None = None,
) -> tuple[Profile, list[dict[str, Any]]]:
    """Fold one validated event into ``profile``; return the new profile and its notices.

    Applying an event twice is the same as once; facts with different natural keys
    commute; a later fact (by ``occurred_at``, then event id) for the same key wins.
    ``version`` grows by one for every application that changed something.
    """
    source, e = event
    stamp = stamp_of(e)
    changes = _FOLDERS[source](profile, stamp, e)
    if changes:
        last = profile.last.get(source)
        if last is None or stamp > last:
            changes["last"] = put(profile.last, source, stamp)
        changes["occurred_ms"] = max(profile.occurred_ms, stamp[0])
        changes["reported_ms"] = max(profile.reported_ms, _ms(e["reported_at"]))
    return _evaluate(profile, changes, as_of, catalog or _default_catalog())


def sweep(
    profile: Profile, as_of: dt.date, catalog: SectorCatalog | None = None
) -> tuple[Profile, list[dict[str, Any]]]:
    """Re-evaluate ``profile``'s listings at ``as_of`` (planned end dates that came)."""
    return _evaluate(profile, {}, as_of, catalog or _default_catalog())


def fold(
    events: Iterable[SourceEvent], as_of: dt.date, catalog: SectorCatalog | None = None
) -> tuple[dict[str, Profile], list[dict[str, Any]]]:
    """Fold a whole stream: the profile per credit code and every notice, in order."""
    catalog = catalog or _default_catalog()
    profiles: dict[str, Profile] = {}
    notices: list[dict[str, Any]] = []
    for event in events:
        uscc = event.event["uscc"]
        profile = profiles.get(uscc) or Profile(uscc)
        profiles[uscc], out = apply(profile, event, as_of, catalog)
        notices += out
    return profiles, notices
