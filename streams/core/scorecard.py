"""The public credit scorecard: ``score(profile, as_of) -> Scored(score, grade, factors)``.

A score of 0-1000 is a base plus one contribution per rule in ``rules.json``; every
contribution that applies is a *factor* with its points and the facts behind them, so a
reader can see why. The grade is the band the score falls in (优秀 / 良好 / 中等 / 较差),
capped at poor while any key-sector listing is in force. Pure: no I/O.

A new listing in force can only lower the score: its own factor is negative, and it
changes nothing else that scores (tested as a property).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, NamedTuple

from streams.core import derive
from streams.core.listings import listings
from streams.core.rules import Rules, load_rules
from streams.core.state import Profile

__all__ = ["MAX_SCORE", "Factor", "Scored", "score"]

MAX_SCORE = 1000
_GRADE_ORDER = ("EXCELLENT", "GOOD", "FAIR", "POOR")


class Factor(NamedTuple):
    code: str
    label: str
    points: int
    facts: str


class Scored(NamedTuple):
    score: int
    grade: str
    factors: tuple[Factor, ...]


def _years_ago(as_of: dt.date, years: int) -> dt.date:
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - years, day=28)


def _basics(p: Profile, as_of: dt.date, card: dict[str, Any], out: list[Factor]) -> None:
    years = derive.years_in_operation(p, as_of)
    if years:
        rule = card["years_in_operation"]
        points = min(rule["max"], rule["points_per_year"] * years)
        out.append(
            Factor(
                "years_in_operation",
                "经营年限 Years in operation",
                points,
                f"{years} years since {derive.field(p.identity, 'established_on')}",
            )
        )
    size = derive.field(p.identity, "size_class")
    if size and card["size"].get(size):
        out.append(Factor("size", "企业规模 Size", card["size"][size], size))
    if derive.field(p.identity, "status") == "DEREGISTERED":
        out.append(
            Factor(
                "deregistered",
                "已注销 Deregistered",
                card["deregistered"],
                "the enterprise is deregistered",
            )
        )
    zjtx = derive.zjtx(p)
    if zjtx and zjtx["active"]:
        out.append(
            Factor(
                "zjtx",
                "专精特新 Specialised SME",
                card["zjtx"][zjtx["level"]],
                f"{zjtx['level']} since {zjtx['year']}",
            )
        )


def _tax(p: Profile, as_of: dt.date, card: dict[str, Any], out: list[Factor]) -> None:
    grades = derive.tax_grades(p)
    if grades:
        last = grades[-1]
        facts = f"latest grade {last.grade} ({last.year})" + (", repaired" * last.repaired)
        out.append(
            Factor(
                "tax_grade", "纳税信用等级 Tax credit grade", card["tax_grade"][last.grade], facts
            )
        )
        run = card["consecutive_a"]["years"]
        tail = grades[-run:]
        consecutive = [g.year for g in tail] == list(range(last.year - run + 1, last.year + 1))
        if len(tail) == run and consecutive and all(g.grade == "A" for g in tail):
            out.append(
                Factor(
                    "consecutive_a",
                    "连续A级 Consecutive A grades",
                    card["consecutive_a"]["points"],
                    f"A in {', '.join(str(g.year) for g in tail)}",
                )
            )
    else:
        out.append(
            Factor(
                "tax_grade",
                "纳税信用等级 Tax credit grade",
                card["tax_grade"]["unrated"],
                "not rated",
            )
        )
    avg, (y1, y2) = derive.avg_tax_paid(p, as_of)
    rule = card["tax_paid"]
    if avg > rule["from_yuan"]:
        tenfolds = math.log10(float(avg) / rule["from_yuan"])
        points = min(rule["max"], int(rule["points_per_tenfold"] * tenfolds))
        if points:
            out.append(
                Factor(
                    "tax_paid", "纳税额 Tax paid", points, f"average {avg} yuan a year in {y1}-{y2}"
                )
            )
    owed, since = derive.arrears(p)
    if owed > 0:
        out.append(
            Factor(
                "arrears",
                "欠税 Tax arrears",
                card["arrears_outstanding"],
                f"{owed} yuan outstanding since {since}",
            )
        )


def _marks(p: Profile, as_of: dt.date, card: dict[str, Any], out: list[Factor]) -> None:
    marks = derive.marks_in_force(p, as_of)
    if marks:
        rule = card["trademarks_in_force"]
        points = min(rule["max"], rule["points_per_mark"] * len(marks))
        out.append(
            Factor("trademarks", "注册商标 Registered trademarks", points, f"{len(marks)} in force")
        )
    known = [n for n, regs in marks if derive.field(regs, "well_known")]
    if known:
        out.append(
            Factor(
                "well_known_mark",
                "驰名商标 Well-known mark",
                card["well_known_mark"],
                f"mark {', '.join(known)}",
            )
        )
    rule = card["infringement_penalty"]
    since = _years_ago(as_of, rule["within_years"])
    fines = sorted(
        d
        for d, (stamp, _) in p.infringements.items()
        if dt.datetime.fromtimestamp(stamp[0] / 1000, dt.UTC).date() >= since
    )
    if fines:
        points = max(rule["min"], rule["points_each"] * len(fines))
        out.append(
            Factor(
                "infringement",
                "商标侵权处罚 Trademark infringement fines",
                points,
                "; ".join(fines),
            )
        )


def _listings(p: Profile, as_of: dt.date, card: dict[str, Any], out: list[Factor]) -> bool:
    current = [x for x in listings(p, as_of) if x.in_force]
    since = _years_ago(as_of, card["listing_ended"]["within_years"])
    ended = [x for x in listings(p, as_of) if not x.in_force and x.ended_on and x.ended_on >= since]
    if current:
        current.sort(key=lambda x: x.key)
        out.append(
            Factor(
                "listing_in_force",
                "失信名单 Key-sector listing in force",
                card["listing_in_force"]["points_each"] * len(current),
                "; ".join(f"{x.sector} {x.decision_no}" for x in current),
            )
        )
    if ended:
        ended.sort(key=lambda x: x.key)
        out.append(
            Factor(
                "listing_ended",
                "失信记录 Listing ended recently",
                card["listing_ended"]["points_each"] * len(ended),
                "; ".join(f"{x.sector} ended {x.ended_on}" for x in ended),
            )
        )
    return bool(current)


def score(profile: Profile, as_of: dt.date, rules: Rules | None = None) -> Scored:
    """Score ``profile`` at ``as_of`` with ``rules`` (default: the packaged rules)."""
    card = dict((rules or load_rules()).scorecard)
    factors: list[Factor] = [Factor("base", "基础分 Base", card["base"], "every enterprise")]
    _basics(profile, as_of, card, factors)
    _tax(profile, as_of, card, factors)
    _marks(profile, as_of, card, factors)
    listed = _listings(profile, as_of, card, factors)
    total = max(0, min(MAX_SCORE, sum(f.points for f in factors)))
    grade = next(name for name, floor in card["bands"] if total >= floor)
    cap = card["listing_caps_grade_at"]
    if listed and _GRADE_ORDER.index(grade) < _GRADE_ORDER.index(cap):
        grade = cap
    return Scored(total, grade, tuple(factors))
