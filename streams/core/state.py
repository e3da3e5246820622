"""The fold's state: every fact of one enterprise, each kept under its natural key.

A *register* holds one value and the *stamp* of the fact that wrote it; a fact with a
newer stamp replaces it, an older or equal one changes nothing. The stamp is
``(occurred_at in ms, event_id)``: effective time first, then the event id, which is
derived from the event's content, as a tie-break that is the same on every replay. This
is what makes the fold idempotent (the same fact twice has an equal stamp), order-free
for distinct facts (they write different registers) and "latest effective fact wins" for
the same key, whatever order the facts arrive in.

Everything a reader sees (grade, listings in force, score...) is derived from these
registers and a clock by :mod:`streams.core.view`. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["EMPTY", "ListingKey", "Profile", "Reg", "Registers", "Stamp", "merge", "put"]

Stamp = tuple[int, str]
"""``(occurred_at as epoch milliseconds, event_id)``: orders facts by effective time."""
Reg = tuple[Stamp, Any]
Registers = Mapping[str, Reg]
ListingKey = tuple[str, str]
"""``(sector, decision_no)``: the natural key of a key-sector listing."""

EMPTY: Registers = MappingProxyType({})


def merge(registers: Registers, stamp: Stamp, values: Mapping[str, Any]) -> Registers:
    """``registers`` with each of ``values`` written where ``stamp`` is newer.

    Returns the very same object when nothing changes, so callers detect a no-op by
    identity (cheap) instead of by comparing contents.
    """
    changed: dict[str, Reg] | None = None
    for name, value in values.items():
        old = registers.get(name)
        if old is None or stamp > old[0]:
            if changed is None:
                changed = dict(registers)
            changed[name] = (stamp, value)
    return registers if changed is None else changed


def put(table: Mapping[Any, Any], key: Any, value: Any) -> Mapping[Any, Any]:
    """``table`` with ``key`` set to ``value``; the same object if it already was."""
    if key in table and table[key] is value:
        return table
    copy = dict(table)
    copy[key] = value
    return copy


@dataclass(frozen=True, slots=True)
class Profile:
    """The facts known about one enterprise (the Table value in the worker).

    Each mapping is never mutated: :func:`streams.core.fold.apply` builds a new profile
    that shares every untouched part with the old one.
    """

    uscc: str
    # Registration (per-field registers: name, city_code, ..., status).
    identity: Registers = field(default_factory=dict)
    # 专精特新 by level: value = (granted, year).
    zjtx: Registers = field(default_factory=dict)
    # Tax, by tax year: assessed = (grade, score, direct_judgement); repaired = grade.
    assessed: Mapping[int, Reg] = field(default_factory=dict)
    repaired: Mapping[int, Reg] = field(default_factory=dict)
    tax_paid: Mapping[int, Reg] = field(default_factory=dict)
    arrears: Reg | None = None  # value = (amount, overdue_since)
    # Trademarks by registration number (registers: status, valid_until, mark_name,
    # nice_class, well_known); pledges by pledge number (registration_no, active,
    # pledgee, secured_amount, pledge_until); infringement fines by decision number.
    marks: Mapping[str, Registers] = field(default_factory=dict)
    pledges: Mapping[str, Registers] = field(default_factory=dict)
    infringements: Mapping[str, Reg] = field(default_factory=dict)
    # Key-sector listings (registers: active = (flag, reported_at ms), department,
    # listed_on, planned_end_on, reason, ground, removed_on).
    listings: Mapping[ListingKey, Registers] = field(default_factory=dict)
    # Bookkeeping: the newest fact per source, and counters.
    last: Mapping[str, Stamp] = field(default_factory=dict)
    version: int = 0
    occurred_ms: int = 0  # newest occurred_at folded in
    reported_ms: int = 0  # newest reported_at folded in
    # The listings in force at the last evaluation, and the clock it ran at: penalty
    # notices are the difference between two evaluations.
    in_force: frozenset[ListingKey] = frozenset()
    as_of: dt.date | None = None
