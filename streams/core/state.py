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

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = [
    "EMPTY",
    "ListingKey",
    "Profile",
    "Reg",
    "Registers",
    "Stamp",
    "evolve",
    "last_result",
    "merge",
    "put",
]

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
    # Patents by application number (registers: patent_kind, title, application_date,
    # grant_date, held, transferred_from, transferred_to, annuity, invalidation = (decision
    # number, partial)); patent pledges by pledge number (pledgee, secured_amount, pledge_from,
    # pledge_until, active, and one ``patent:<no>`` flag per patent it covers). New fields
    # go last: a state stored before them loads with their defaults (``__setstate__``).
    patents: Mapping[str, Registers] = field(default_factory=dict)
    patent_pledges: Mapping[str, Registers] = field(default_factory=dict)

    def __getstate__(self) -> list[Any]:
        # What dataclasses' own would return, without its fields() call on every state
        # the worker stores.
        return [getattr(self, name) for name in _FIELDS]

    def __setstate__(self, state: list[Any]) -> None:
        """Load a stored state; one from before the newest fields gets their defaults.

        A state with more fields than this code knows was written by newer code: loading
        it would drop facts silently, so it is refused.
        """
        if len(state) > len(_FIELDS):
            raise TypeError(
                f"a state of {len(state)} fields is newer than this code's {len(_FIELDS)}"
            )
        values: list[Any] = [*state, *[_MISSING] * (len(_DEFAULTS) - len(state))]
        for (name, default), value in zip(_DEFAULTS, values, strict=True):
            _set(self, name, default() if value is _MISSING else value)


_FIELDS = tuple(f.name for f in dataclasses.fields(Profile))
_MISSING = object()


def _default(f: dataclasses.Field[Any]) -> Callable[[], Any]:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory
    value = f.default
    return lambda: value


_DEFAULTS: tuple[tuple[str, Callable[[], Any]], ...] = tuple(
    (f.name, _default(f)) for f in dataclasses.fields(Profile)
)
_new = object.__new__
_set = object.__setattr__


def evolve(profile: Profile, changes: Mapping[str, Any]) -> Profile:
    """``profile`` with ``changes`` (field -> value): ``dataclasses.replace`` without its
    per-call checks, which cost more than the rest of folding an event."""
    new = _new(Profile)
    for name in _FIELDS:
        _set(new, name, changes[name] if name in changes else getattr(profile, name))
    return new


_R = TypeVar("_R")


def last_result(fn: Callable[..., _R]) -> Callable[..., _R]:
    """Remember ``fn``'s last result, for the same profile object and arguments.

    Rendering a profile asks the scorecard, the credit line and the renderer for the same
    derived facts (grades, listings, marks); profiles are immutable, so the answer for the
    very same object cannot change. One entry is enough and holds the profile alive, so
    its identity cannot be reused.
    """
    last: list[Any] = [None, None, None]

    def remembered(profile: Profile, *args: Any) -> _R:
        if last[0] is profile and last[1] == args:
            return last[2]  # type: ignore[no-any-return]
        result = fn(profile, *args)
        last[:] = [profile, args, result]
        return result

    remembered.__doc__ = fn.__doc__
    remembered.__name__ = fn.__name__
    return remembered
