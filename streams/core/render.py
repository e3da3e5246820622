"""``render(profile, as_of) -> dict``: the credit profile as published (credit_profile.v2).

Everything here is derived from the registers and the clock, never stored twice: the
fold keeps facts, this module turns them into what a reader sees. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from streams.core import derive
from streams.core.credit_line import credit_line
from streams.core.listings import listings
from streams.core.patents import ip_pledge, patent_pledges, patents, pledged_amount
from streams.core.rules import Rules, load_rules
from streams.core.scorecard import score
from streams.core.state import Profile

__all__ = ["render"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ms(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=value)


def _trademarks(p: Profile, as_of: dt.date) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    pledged: dict[str, list[dict[str, Any]]] = {}
    amount, count = derive.ZERO, 0
    for number, regs in sorted(p.pledges.items()):
        if not derive.field(regs, "active"):
            continue
        secured = derive.field(regs, "secured_amount")
        pledged.setdefault(derive.field(regs, "registration_no"), []).append(
            {
                "pledge_no": number,
                "pledgee": derive.field(regs, "pledgee"),
                "secured_amount": secured,
                "pledge_until": derive.field(regs, "pledge_until"),
            }
        )
        amount += secured or 0
        count += 1
    marks = [
        {
            "registration_no": number,
            "mark_name": derive.field(regs, "mark_name"),
            "nice_class": derive.field(regs, "nice_class"),
            "status": derive.field(regs, "status", "REGISTERED"),
            "valid_until": derive.field(regs, "valid_until"),
            "well_known": bool(derive.field(regs, "well_known")),
            "pledges": pledged.get(number, []),
        }
        for number, regs in sorted(p.marks.items())
    ]
    in_force = derive.marks_in_force(p, as_of)
    summary = {
        "trademark_count": len(in_force),
        "well_known_count": sum(1 for _, regs in in_force if derive.field(regs, "well_known")),
        "active_pledge_count": count,
        "pledged_amount": amount,
        "infringement_penalty_count": len(p.infringements),
    }
    return marks, summary


_KIND_COUNTS = {
    "INVENTION": "invention_patent_count",
    "UTILITY_MODEL": "utility_model_patent_count",
    "DESIGN": "design_patent_count",
}


def _patents(p: Profile, as_of: dt.date) -> dict[str, Any]:
    counts = dict.fromkeys(_KIND_COUNTS.values(), 0)
    pledges = patent_pledges(p)
    covering: dict[str, list[dict[str, Any]]] = {}
    for pledge in pledges:
        shown = pledge._asdict()
        del shown["patent_nos"]
        for number in pledge.patent_nos:
            covering.setdefault(number, []).append(shown)
    held = []
    for x in patents(p, as_of):
        if x.in_force and x.patent_kind in _KIND_COUNTS:
            counts[_KIND_COUNTS[x.patent_kind]] += 1
        held.append({**x._asdict(), "pledges": covering.get(x.patent_no, [])})
    return {
        "patents": held,
        **counts,
        "active_patent_pledge_count": len(pledges),
        "patent_pledged_amount": pledged_amount(pledges),
        "ip_pledge": ip_pledge(p, as_of),
    }


def _blacklist(p: Profile, as_of: dt.date, rules: Rules) -> dict[str, Any]:
    current, ended, measures = [], [], []
    for x in sorted(listings(p, as_of), key=lambda x: (x.listed_on, x.key)):
        if x.in_force:
            current.append(
                {
                    "sector": x.sector,
                    "decision_no": x.decision_no,
                    "department": x.department,
                    "listed_on": x.listed_on,
                    "planned_end_on": x.planned_end_on,
                    "reason": x.reason,
                }
            )
            measures += [
                {
                    "sector": x.sector,
                    "decision_no": x.decision_no,
                    "measure_code": m.code,
                    "measure": m.text_zh,
                    "department": m.enforcing_department,
                }
                for m in rules.catalog.sector(x.sector).measures
            ]
        else:
            ended.append(
                {
                    "sector": x.sector,
                    "decision_no": x.decision_no,
                    "department": x.department,
                    "listed_on": x.listed_on,
                    "ended_on": x.ended_on,
                    "ground": x.ground,
                }
            )
    return {"blacklist": current, "blacklist_history": ended, "penalties": measures}


def render(profile: Profile, as_of: dt.date, rules: Rules | None = None) -> dict[str, Any]:
    """The published profile of ``profile`` evaluated at ``as_of``."""
    rules = rules or load_rules()
    p, ident = profile, profile.identity
    grades = derive.tax_grades(p)
    owed, since = derive.arrears(p)
    marks, mark_summary = _trademarks(p, as_of)
    scored = score(p, as_of, rules)
    line = credit_line(p, as_of, rules)
    return {
        "uscc": p.uscc,
        "name": derive.field(ident, "name"),
        "status": derive.field(ident, "status", "UNKNOWN"),
        "city_code": derive.field(ident, "city_code"),
        "district_code": derive.field(ident, "district_code"),
        "industry_section": derive.field(ident, "industry_section"),
        "industry_code": derive.field(ident, "industry_code"),
        "size_class": derive.field(ident, "size_class"),
        "established_on": derive.field(ident, "established_on"),
        "zjtx": derive.zjtx(p),
        "tax_grades": [
            {
                "year": g.year,
                "grade": g.grade,
                "score": g.score,
                "direct_judgement": g.direct_judgement,
                "repaired": g.repaired,
            }
            for g in grades
        ],
        "tax_grade": grades[-1].grade if grades else None,
        "tax_paid": [{"year": y, "amount": p.tax_paid[y][1]} for y in sorted(p.tax_paid)],
        "arrears_outstanding": owed,
        "arrears_overdue_since": since,
        "trademarks": marks,
        **mark_summary,
        **_patents(p, as_of),
        **_blacklist(p, as_of, rules),
        "score": scored.score,
        "grade": scored.grade,
        "rules_version": rules.version,
        "factors": [
            {"code": f.code, "label": f.label, "points": f.points, "facts": f.facts}
            for f in scored.factors
        ],
        "credit_line": {
            "eligible": line.eligible,
            "amount": line.amount,
            "multiple": line.multiple,
            "rate_tier": line.rate_tier,
            "reason": line.reason,
        },
        "version": p.version,
        "as_of": as_of,
        "updated_at": _ms(p.occurred_ms),
        "last_reported_at": _ms(p.reported_ms),
        "last_events": [
            {"source": s, "event_id": p.last[s][1], "occurred_at": _ms(p.last[s][0])}
            for s in sorted(p.last)
        ],
    }
