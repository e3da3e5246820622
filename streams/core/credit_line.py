"""The bank-tax credit line (银税互动): ``credit_line(profile, as_of) -> CreditLine``.

``amount = min(product cap, multiple[grade] * average annual tax paid over the last two
complete years)``, for eligible grades only; refused, with the reason, while any
key-sector listing is in force or when the latest tax grade is not eligible (C, D), is
missing, or the firm is too young or deregistered. Parameters are data (``rules.json``,
credit_line); domain.md section 3 is where they start from. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, NamedTuple

from streams.core import derive
from streams.core.listings import listings
from streams.core.rules import Rules, load_rules
from streams.core.state import Profile

__all__ = ["CreditLine", "credit_line"]

_CENT = decimal.Decimal("0.01")


class CreditLine(NamedTuple):
    eligible: bool
    amount: decimal.Decimal | None = None
    multiple: decimal.Decimal | None = None
    rate_tier: str | None = None
    reason: str | None = None


def _refusal(p: Profile, as_of: dt.date, params: dict[str, Any]) -> str | None:
    if derive.field(p.identity, "status") == "DEREGISTERED":
        return "the enterprise is deregistered"
    listed = sorted(x.key for x in listings(p, as_of) if x.in_force)
    if listed:
        return "key-sector listing in force: " + "; ".join(f"{s} {d}" for s, d in listed)
    grades = derive.tax_grades(p)
    if not grades:
        return "no tax credit grade"
    last = grades[-1]
    if last.grade not in params["eligible_grades"]:
        return f"latest tax credit grade is {last.grade} ({last.year})"
    years = derive.years_in_operation(p, as_of)
    if years is None or years < params["min_years_in_operation"]:
        return f"in operation under {params['min_years_in_operation']} years"
    return None


def credit_line(profile: Profile, as_of: dt.date, rules: Rules | None = None) -> CreditLine:
    """The credit line a bank may offer ``profile`` at ``as_of``, or why not."""
    params = dict((rules or load_rules()).credit_line)
    reason = _refusal(profile, as_of, params)
    if reason is not None:
        return CreditLine(eligible=False, reason=reason)
    grade = derive.tax_grades(profile)[-1].grade
    avg, (y1, y2) = derive.avg_tax_paid(profile, as_of)
    if avg <= 0:
        return CreditLine(eligible=False, reason=f"no tax paid in {y1}-{y2}")
    multiple = decimal.Decimal(params["multiples"][grade])
    amount = min(decimal.Decimal(params["product_cap"]), multiple * avg).quantize(_CENT)
    return CreditLine(True, amount, multiple.quantize(_CENT), params["rate_tiers"][grade], None)
