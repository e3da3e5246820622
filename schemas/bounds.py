"""The bounds every field of every source event must stay inside. Pure: no I/O.

One definition, checked by the producer (a row rejected with its reason), by the worker
(a dead letter with its reason) and by the sink (which keeps only the events the worker
folded), and printed in the README's column table. Each bound is there so that what is
downstream can honour every accepted event:

- lengths (:data:`MAX_LENGTH`, code points): a key column of the read model is part of a
  PostgreSQL B-tree index, whose entries hold at most 2,704 bytes (4,000 characters of
  ``decision_no`` stopped the sink); the longest event is well inside Kafka's 1 MB message;
- characters: no control, format or surrogate code points (a NUL cannot be stored in a
  PostgreSQL ``text``; a zero-width or bidi mark hides what a name really says), except
  tab and newline in the free-text ``reason``;
- amounts: inside ``decimal(18,2)``, finite, at most two decimals;
- dates: between :data:`EARLIEST` and :data:`LATEST`; a fact that is in the past by nature
  (a listing, an establishment, an overdue date) no later than a day after it was
  reported; a tax year no later than the year reported;
- ``reported_at`` no later than :data:`READ_SKEW` after the event was read (the producer's
  clock when it reads a row, the broker's append time when the worker reads a message):
  a fact dated in the future would win its register for ever.

Example::

    check_bounds(event, read_at=now)     # raises InvalidEvent(field=..., reason=...)
"""

from __future__ import annotations

import datetime as dt
import decimal
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from schemas.errors import InvalidEvent

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "EARLIEST",
    "LATEST",
    "MAX_AMOUNT",
    "MAX_LENGTH",
    "PAST_DATES",
    "READ_SKEW",
    "USCC_MAX_RAW",
    "check_bounds",
    "check_text",
]

# Code points. A CJK character is 3 bytes of UTF-8, so 200 characters are 600 bytes: the
# three key columns of a listing (uscc, sector, decision_no) stay under 1 KiB together.
MAX_LENGTH: Mapping[str, int] = {
    "uscc": 18,
    "department": 64,
    "listing_department": 64,
    "sector": 64,
    "name": 200,
    "mark_name": 200,
    "pledgee": 200,
    "recognised_by": 100,
    "authority": 100,
    "evaluating_office": 100,
    "city_code": 6,
    "district_code": 6,
    "industry_section": 1,
    "industry_code": 8,
    "registration_no": 12,
    "patent_no": 16,  # 201710601862.3: 14 characters in the normal form
    "title": 300,
    "transferor_uscc": 18,
    "transferee_uscc": 18,
    "pledge_no": 64,
    "decision_no": 100,
    "reason": 2000,
}
DEFAULT_MAX_LENGTH = 200  # a string field not named above
# A credit code as a department writes it (spaces, BOM, full-width blanks around it) is
# refused unread beyond this: parsing never sees a megabyte of spaces.
USCC_MAX_RAW = 64
_MULTILINE = frozenset({"reason"})  # free text: tab, newline and carriage return allowed
_LINE_BREAKS = frozenset("\t\n\r")
_CONTROL = frozenset({"Cc", "Cf", "Cs"})  # control, format (zero-width, bidi), surrogate

MAX_AMOUNT = decimal.Decimal(10) ** 16  # decimal(18,2): 16 digits before the point
_CENTS = decimal.Decimal("0.01")

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2100, 12, 31)
_EARLIEST_TS = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST_TS = dt.datetime(2101, 1, 1, tzinfo=dt.UTC)
_YEARS_INSIDE = range(EARLIEST.year + 1, LATEST.year)  # in the window at any UTC offset
# Facts that have happened by the time they are reported (a day for time zones and late
# clerks); a planned end, a trademark's validity or a pledge's term may be in the future.
PAST_DATES = ("established_on", "listed_on", "removed_on", "overdue_since", "application_date",
              "grant_date")  # fmt: skip
_PAST_SLACK = dt.timedelta(days=1)
READ_SKEW = dt.timedelta(minutes=15)  # a department's clock may run this far ahead


def _fail(field: str, message: str, reason: str) -> InvalidEvent:
    return InvalidEvent(f"{field}: {message}", reason=reason, field=field)


def check_text(field: str, value: str) -> None:
    """Raise InvalidEvent unless ``value`` fits the length and characters of ``field``."""
    limit = USCC_MAX_RAW if field == "uscc" else MAX_LENGTH.get(field, DEFAULT_MAX_LENGTH)
    if len(value) > limit:
        raise _fail(
            field, f"{len(value):,} characters, at most {limit:,} (starts {value[:20]!r})",
            "too_long",
        )  # fmt: skip
    if field == "uscc" or value.isprintable():
        # The parser trims a code's BOM or zero-width space and names any other symbol.
        # isprintable (in C) is false for every refused category: the loop below runs
        # only for text with a space separator, a private-use character or a refused one.
        return
    allowed = _LINE_BREAKS if field in _MULTILINE else frozenset()
    for position, ch in enumerate(value, start=1):
        if ch not in allowed and unicodedata.category(ch) in _CONTROL:
            raise _fail(
                field,
                f"control character U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')}) "
                f"at character {position}",
                "control_character",
            )


def _check_amount(field: str, value: decimal.Decimal) -> None:
    if not value.is_finite():
        raise _fail(field, f"{value} is not a number", "out_of_range")
    if abs(value) >= MAX_AMOUNT:
        raise _fail(field, f"{value} does not fit decimal(18,2)", "out_of_range")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(_CENTS):
        raise _fail(field, f"{value} has more than two decimals", "out_of_range")


def _check_date(field: str, value: dt.date | dt.datetime) -> None:
    if isinstance(value, dt.datetime):
        inside = _EARLIEST_TS <= value < _LATEST_TS
    else:
        inside = EARLIEST <= value <= LATEST
    if not inside:
        raise _fail(field, f"{value.isoformat()} is outside {EARLIEST}..{LATEST}", "out_of_range")


_CHECKS: dict[type, Callable[[str, Any], None] | None] = {
    type(None): None,  # absent, and the types with no bound of their own (Avro's own)
    int: None,
    bool: None,
    str: check_text,
    decimal.Decimal: _check_amount,
    dt.date: _check_date,
    dt.datetime: _check_date,
}


def _check_of_subclass(value: object) -> Callable[[str, Any], None] | None:
    # A library caller's str or date subclass: found by isinstance, off the fast path.
    for kind in (str, decimal.Decimal, dt.datetime, dt.date):
        if isinstance(value, kind):
            return _CHECKS[kind]
    return None  # bytes, a list, a nested record: bounded by their schema


# check_text's limit of each field, for the inline test of check_bounds.
_TEXT_LIMIT: Mapping[str, int] = {**MAX_LENGTH, "uscc": USCC_MAX_RAW}


def check_bounds(event: Mapping[str, Any], *, read_at: dt.datetime) -> None:
    """Raise InvalidEvent (``too_long``, ``control_character``, ``out_of_range`` or
    ``from_the_future``, naming the field) unless every field of ``event`` is in bounds.

    ``read_at`` is when the event was read (aware): ``reported_at`` may not be later
    than :data:`READ_SKEW` after it.
    """
    limit_of = _TEXT_LIMIT
    for field, value in event.items():
        # Runs on every event of the producer, the worker and the sink: the common values
        # (absent, text within its bounds, a timestamp in the window) are passed inline,
        # and anything else goes to its check, which decides and words the verdict.
        kind = value.__class__
        if kind is str:
            if len(value) <= limit_of.get(field, DEFAULT_MAX_LENGTH) and (
                value.isprintable() or field == "uscc"
            ):
                continue
            check_text(field, value)
        elif value is None:
            continue
        elif kind is dt.datetime:
            # Comparing a +08:00 time with the UTC bounds converts it (about 0.4 µs each):
            # with a fixed offset (under a day) and a year well inside, it is inside.
            if not (value.tzinfo.__class__ is dt.timezone and value.year in _YEARS_INSIDE):
                _check_date(field, value)
        else:
            check = _CHECKS[kind] if kind in _CHECKS else _check_of_subclass(value)
            if check is not None:
                check(field, value)
    reported = event.get("reported_at")
    if isinstance(reported, dt.datetime):
        _check_reported(event, reported, read_at)


def _check_reported(event: Mapping[str, Any], reported: dt.datetime, read_at: dt.datetime) -> None:
    # What the report time bounds: itself (by the read time), past facts and years.
    if reported > read_at + READ_SKEW:
        raise _fail(
            "reported_at",
            f"{reported.isoformat()} is after the event was read ({read_at.isoformat()})",
            "from_the_future",
        )
    latest_fact: dt.date | None = None  # worked out for the first past date an event has
    for field in PAST_DATES:
        value = event.get(field)
        if not isinstance(value, dt.date):
            continue
        latest_fact = latest_fact or reported.date() + _PAST_SLACK
        if value > latest_fact:
            raise _fail(
                field, f"{value} is after the event was reported ({reported.date()})",
                "from_the_future",
            )  # fmt: skip
    for field, ahead in (("tax_year", 0), ("zjtx_year", 1)):
        year = event.get(field)
        if isinstance(year, int) and year > reported.year + ahead:
            raise _fail(
                field, f"{year} is after the year reported ({reported.year})", "from_the_future"
            )
