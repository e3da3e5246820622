"""What the registers say, at a clock: tax grades, money, marks, identity. Pure: no I/O.

Shared by the scorecard, the credit line and the rendered profile, so the three can
never disagree about a fact.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, NamedTuple

from streams.core.state import Profile, Registers, last_result

__all__ = [
    "GradeYear",
    "arrears",
    "avg_tax_paid",
    "field",
    "marks_in_force",
    "tax_grades",
    "years_in_operation",
    "zjtx",
]

ZERO = decimal.Decimal("0.00")
_LEVELS = ("NATIONAL", "PROVINCIAL")  # highest first


def field(regs: Registers, name: str, default: Any = None) -> Any:
    """The value of register ``name``, or ``default`` if never written."""
    reg = regs.get(name)
    return default if reg is None else reg[1]


class GradeYear(NamedTuple):
    year: int
    grade: str
    score: decimal.Decimal | None
    direct_judgement: bool
    repaired: bool


@last_result
def tax_grades(profile: Profile) -> list[GradeYear]:
    """The grade of every assessed year, ascending; a repair newer than the assessment wins."""
    out = []
    for year in sorted(profile.assessed.keys() | profile.repaired.keys()):
        assessed, repaired = profile.assessed.get(year), profile.repaired.get(year)
        grade, score, direct = assessed[1] if assessed else (None, None, False)
        if repaired is not None and (assessed is None or repaired[0] > assessed[0]):
            out.append(GradeYear(year, repaired[1], score, direct, True))
        elif grade is not None:
            out.append(GradeYear(year, grade, score, direct, False))
    return out


def avg_tax_paid(profile: Profile, as_of: dt.date) -> tuple[decimal.Decimal, tuple[int, int]]:
    """Average annual tax paid over the two complete tax years before ``as_of``."""
    years = (as_of.year - 2, as_of.year - 1)
    total = sum((profile.tax_paid[y][1] for y in years if y in profile.tax_paid), ZERO)
    return (total / 2).quantize(decimal.Decimal("0.01")), years


def arrears(profile: Profile) -> tuple[decimal.Decimal, dt.date | None]:
    """Tax arrears outstanding (by the newest snapshot) and since when."""
    if profile.arrears is None:
        return ZERO, None
    amount, since = profile.arrears[1]
    return amount, (since if amount > 0 else None)


def years_in_operation(profile: Profile, as_of: dt.date) -> int | None:
    """Whole years since establishment, or None if no registration is known."""
    established = field(profile.identity, "established_on")
    if not isinstance(established, dt.date):
        return None
    years = (
        as_of.year
        - established.year
        - ((as_of.month, as_of.day) < (established.month, established.day))
    )
    return max(0, years)


@last_result
def marks_in_force(profile: Profile, as_of: dt.date) -> list[tuple[str, Registers]]:
    """Registered marks whose term has not ended, by registration number."""
    out = []
    for number, regs in sorted(profile.marks.items()):
        until = field(regs, "valid_until")
        if field(regs, "status") == "REGISTERED" and (until is None or until >= as_of):
            out.append((number, regs))
    return out


def zjtx(profile: Profile) -> dict[str, Any] | None:
    """专精特新: the highest level granted and not revoked, else the last revoked one."""
    if not profile.zjtx:
        return None
    for level in _LEVELS:
        reg = profile.zjtx.get(level)
        if reg is not None and reg[1][0]:
            return {"level": level, "year": reg[1][1], "active": True}
    level = max(profile.zjtx, key=lambda lv: profile.zjtx[lv][0])
    return {"level": level, "year": profile.zjtx[level][1][1], "active": False}
