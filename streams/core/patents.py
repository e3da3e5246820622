"""Patents and patent pledges as a reader sees them at a clock. Pure: no I/O.

The fold keeps each patent's facts as registers (:func:`streams.core.fold.apply`); this
module decides what they mean at ``as_of``: the status of each patent, the active pledges
covering it, and the IP-pledge summary banks ask for. The rules and their sources are in
docs/patents.md; the statutory terms are **[from memory]**.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from typing import Any, NamedTuple

from schemas.errors import InvalidPatentNumber
from schemas.patent_no import validate
from streams.core import derive
from streams.core.state import Profile, Registers, last_result

__all__ = [
    "PatentView",
    "PledgeView",
    "ip_pledge",
    "patent_pledges",
    "patents",
    "pledged_amount",
    "term_ends_on",
]

# Term in years from the filing date, by kind (专利法 art. 42) [from memory]; designs filed
# from 2021-06-01 (the 4th amendment) have 15 years.
_TERM_YEARS = {"INVENTION": 20, "UTILITY_MODEL": 10, "DESIGN": 10}
_DESIGN_15_FROM = dt.date(2021, 6, 1)
_PREFIX = "patent:"


def term_ends_on(kind: str | None, filed: dt.date | None) -> dt.date | None:
    """The last day of the term: the day before the filing date's anniversary (a 29
    February filing's anniversary in a common year is 1 March). None if unknown."""
    if kind not in _TERM_YEARS or filed is None:
        return None
    years = 15 if kind == "DESIGN" and filed >= _DESIGN_15_FROM else _TERM_YEARS[kind]
    try:
        anniversary = filed.replace(year=filed.year + years)
    except ValueError:  # 29 February
        anniversary = dt.date(filed.year + years, 3, 1)
    return anniversary - dt.timedelta(days=1)


class PledgeView(NamedTuple):
    pledge_no: str
    pledgee: str | None
    secured_amount: decimal.Decimal | None
    pledge_from: dt.date | None
    pledge_until: dt.date | None
    patent_nos: tuple[str, ...]  # the patents it covers


class PatentView(NamedTuple):
    patent_no: str
    patent_kind: str | None
    title: str | None
    application_date: dt.date | None
    grant_date: dt.date | None
    term_ends_on: dt.date | None
    status: str  # IN_FORCE, LAPSED, EXPIRED, INVALIDATED or TRANSFERRED_OUT
    transferred_from: str | None
    transferred_to: str | None
    invalidation_decision_no: str | None
    partially_invalidated: bool

    @property
    def in_force(self) -> bool:
        return self.status == "IN_FORCE"


def _status(regs: Registers, ends: dt.date | None, as_of: dt.date) -> str:
    # Most final first: a patent given up is no longer this firm's, whatever befell it.
    # No ``held`` register (a lapse seen before the grant) still means this firm's: the
    # office sends every fact but a transfer-out under the patentee's code.
    invalidation = derive.field(regs, "invalidation")
    if not derive.field(regs, "held", True):
        return "TRANSFERRED_OUT"
    if invalidation is not None and not invalidation[1]:
        return "INVALIDATED"
    if derive.field(regs, "annuity") == "LAPSED":
        return "LAPSED"
    if ends is not None and as_of > ends:
        return "EXPIRED"
    return "IN_FORCE"


def _kind_of(number: str) -> str | None:
    """The kind the number's kind digit says (a lapse seen before the grant has no kind)."""
    try:
        return validate(number).kind
    except InvalidPatentNumber:  # validated on the way in; a stored oddity stays unknown
        return None


def _view(number: str, regs: Registers, as_of: dt.date) -> PatentView:
    kind = derive.field(regs, "patent_kind") or _kind_of(number)
    filed = derive.field(regs, "application_date")
    ends = term_ends_on(kind, filed)
    invalidation = derive.field(regs, "invalidation")
    return PatentView(
        patent_no=number,
        patent_kind=kind,
        title=derive.field(regs, "title"),
        application_date=filed,
        grant_date=derive.field(regs, "grant_date"),
        term_ends_on=ends,
        status=_status(regs, ends, as_of),
        transferred_from=derive.field(regs, "transferred_from"),
        transferred_to=derive.field(regs, "transferred_to"),
        invalidation_decision_no=invalidation[0] if invalidation else None,
        partially_invalidated=bool(invalidation and invalidation[1]),
    )


@last_result
def patents(profile: Profile, as_of: dt.date) -> tuple[PatentView, ...]:
    """Every patent the firm holds or once held, by number, as it stands at ``as_of``."""
    return tuple(_view(n, regs, as_of) for n, regs in sorted(profile.patents.items()))


@last_result
def patent_pledges(profile: Profile) -> tuple[PledgeView, ...]:
    """The active patent pledges, by pledge number."""
    out = []
    for number, regs in sorted(profile.patent_pledges.items()):
        if not derive.field(regs, "active"):
            continue
        covered = tuple(sorted(k[len(_PREFIX) :] for k in regs if k.startswith(_PREFIX)))
        out.append(
            PledgeView(
                pledge_no=number,
                pledgee=derive.field(regs, "pledgee"),
                secured_amount=derive.field(regs, "secured_amount"),
                pledge_from=derive.field(regs, "pledge_from"),
                pledge_until=derive.field(regs, "pledge_until"),
                patent_nos=covered,
            )
        )
    return tuple(out)


def _amount(amounts: Iterable[decimal.Decimal | None]) -> decimal.Decimal:
    return sum((a for a in amounts if a is not None), derive.ZERO)


def pledged_amount(pledges: Iterable[PledgeView]) -> decimal.Decimal:
    """The amount secured by ``pledges``, each pledge once whatever it covers."""
    return _amount(x.secured_amount for x in pledges)


def _free_marks(profile: Profile, as_of: dt.date, pledged: set[str]) -> list[str]:
    """Marks shown as registered (the rendered profile's status), in their term, that no
    active pledge covers. Derived from what a v1 profile shows too, so the read model's
    migration (readmodel/migrations/0004_profile_v2.sql) computes the same list."""
    free = []
    for number, regs in sorted(profile.marks.items()):
        until = derive.field(regs, "valid_until")
        registered = derive.field(regs, "status", "REGISTERED") == "REGISTERED"
        if registered and (until is None or until >= as_of) and number not in pledged:
            free.append(number)
    return free


def ip_pledge(profile: Profile, as_of: dt.date) -> dict[str, Any] | None:
    """Trademark and patent pledges together, and what is still free to pledge: marks and
    patents in force that no active pledge covers. None when the firm has no mark, no
    patent and no active pledge on record."""
    mark_pledges = [regs for regs in profile.pledges.values() if derive.field(regs, "active")]
    pledges = patent_pledges(profile)
    if not (profile.marks or mark_pledges or profile.patents or pledges):
        return None
    pledged_marks = {derive.field(regs, "registration_no") for regs in mark_pledges}
    pledged_patents = {n for x in pledges for n in x.patent_nos}
    return {
        "active_pledge_count": len(mark_pledges) + len(pledges),
        "secured_amount": _amount(derive.field(r, "secured_amount") for r in mark_pledges)
        + pledged_amount(pledges),
        "pledgeable_trademarks": _free_marks(profile, as_of, pledged_marks),
        "pledgeable_patents": [
            x.patent_no
            for x in patents(profile, as_of)
            if x.in_force and x.patent_no not in pledged_patents
        ],
    }
