"""Key-sector listings evaluated against a clock: in force, or ended and why.

A listing is in force while its latest fact is a listing (not a removal) and its planned
end date, if any, is after ``as_of``. It ends by a removal (with the department's
ground) or by reaching its planned end date (``PLANNED_END_REACHED``). Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from streams.core.state import ListingKey, Profile, Registers, last_result

__all__ = ["Listing", "evaluate", "in_force", "listings", "next_due"]

PLANNED_END = "PLANNED_END_REACHED"


class Listing(NamedTuple):
    """One listing as a reader sees it at ``as_of``."""

    sector: str
    decision_no: str
    department: str
    listed_on: dt.date
    planned_end_on: dt.date | None
    reason: str | None
    in_force: bool
    ended_on: dt.date | None  # None while in force
    ground: str | None  # why it ended
    event_id: str  # the fact that decided its state
    occurred_ms: int
    reported_ms: int

    @property
    def key(self) -> ListingKey:
        return (self.sector, self.decision_no)


def _value(regs: Registers, name: str) -> object:
    reg = regs.get(name)
    return None if reg is None else reg[1]


def _evaluate(key: ListingKey, regs: Registers, as_of: dt.date) -> Listing | None:
    active_reg = regs.get("active")
    listed_on = _value(regs, "listed_on")
    if active_reg is None or not isinstance(listed_on, dt.date):
        return None
    (occurred_ms, event_id), (active, reported_ms) = active_reg
    planned = _value(regs, "planned_end_on")
    planned = planned if isinstance(planned, dt.date) else None
    ended_on: dt.date | None = None
    ground: str | None = None
    if not active:
        removed = _value(regs, "removed_on")
        ended_on = removed if isinstance(removed, dt.date) else listed_on
        ground = str(_value(regs, "ground"))
    elif planned is not None and planned <= as_of:
        ended_on, ground = planned, PLANNED_END
    return Listing(
        sector=key[0],
        decision_no=key[1],
        department=str(_value(regs, "department")),
        listed_on=listed_on,
        planned_end_on=planned,
        reason=_value(regs, "reason"),  # type: ignore[arg-type]
        in_force=ended_on is None,
        ended_on=ended_on,
        ground=ground,
        event_id=event_id,
        occurred_ms=occurred_ms,
        reported_ms=reported_ms,
    )


@last_result
def listings(profile: Profile, as_of: dt.date) -> tuple[Listing, ...]:
    """Every listing of ``profile`` as it stands at ``as_of``."""
    return tuple(evaluate(profile.listings, as_of)) if profile.listings else ()


def evaluate(registers: Mapping[ListingKey, Registers], as_of: dt.date) -> Iterator[Listing]:
    """Every listing in ``registers`` (a profile's ``listings``) as it stands at ``as_of``."""
    for key, regs in registers.items():
        listing = _evaluate(key, regs, as_of)
        if listing is not None:
            yield listing


def in_force(profile: Profile, as_of: dt.date) -> frozenset[ListingKey]:
    """The keys of the listings in force at ``as_of``."""
    if not profile.listings:
        return frozenset()
    return frozenset(x.key for x in listings(profile, as_of) if x.in_force)


def next_due(profile: Profile) -> dt.date | None:
    """The earliest planned end among the listings in force: when a sweep has work."""
    due = None
    for key in profile.in_force:
        planned = _value(profile.listings[key], "planned_end_on")
        if isinstance(planned, dt.date) and (due is None or planned < due):
            due = planned
    return due
