"""Chinese patent application numbers (专利申请号): parse, normalise and check.

A patent's number (专利号) is ``ZL`` followed by its application number, so the
application number with its check character is the patent's natural key here. Two forms:

- **since 2003-10-01** (the CNIPA standard ZC 0006-2003 专利申请号标准): 12 digits, then
  ``.`` and a check character: year of filing (4) + kind (1) + serial (7), e.g.
  ``201710601862.3``;
- **before** (1985-2003): 8 digits + ``.`` + check: year (2, ``85``-``03``) + kind (1) +
  serial (5), e.g. ``95115608.X``. Such patents are still cited (an invention lives 20
  years from filing), so both forms are accepted; an 8-digit number whose year is after
  2003 is refused (``year``).

Kind digit: 1 invention (发明), 2 utility model (实用新型), 3 design (外观设计), 8 a PCT
application for an invention entering China, 9 one for a utility model.

**Check character** **[rule unconfirmed against the standard's text]**: each digit times
the weights 2, 3, 4, 5, 6, 7, 8, 9 (then 2, 3, 4, 5 again for the 12-digit form), summed,
mod 11; a remainder of 10 is written ``X``. The text of ZC 0006-2003 was not found; the rule
is given the same way by several secondary pages, and their worked examples
(``201710601862.3``, ``95115608.X``, ``201310699744.2``, ``201080063196.9``, ``97101765.4``)
all check. A number failing only this rule is refused with its own reason,
``check_digit``, so operators can tell it apart if the rule proves wrong.

:func:`normalize` accepts what departments write: a ``ZL`` or ``CN`` prefix, full-width
characters, blanks (the standard allows one between year, kind and serial), a missing dot,
a lower-case ``x``; the normal form is digits, ``.``, check character.

Example::

    >>> validate("ZL 2017 1 0601862.3").number
    '201710601862.3'
    >>> validate("201710601862.3").kind
    'INVENTION'
    >>> problem("201710601862.4")[0]
    'check_digit'
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass

from schemas.errors import InvalidPatentNumber

__all__ = [
    "KIND_DIGITS",
    "KIND_NAMES",
    "MAX_RAW",
    "NEW_FORM_FROM",
    "PatentNumber",
    "check_character",
    "normalize",
    "problem",
    "validate",
]

NEW_FORM_FROM = 2003  # the 12-digit form began on 2003-10-01 (so 2003 has both forms)
_FIRST_YEAR = 1985  # the Patent Law took effect on 1985-04-01
_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9)
# Kind digit -> the patent kind of the event schema (PCT national-phase entries are
# inventions or utility models like the others).
KIND_DIGITS: dict[str, str] = {
    "1": "INVENTION",
    "2": "UTILITY_MODEL",
    "3": "DESIGN",
    "8": "INVENTION",
    "9": "UTILITY_MODEL",
}
KIND_NAMES = {"INVENTION": "发明", "UTILITY_MODEL": "实用新型", "DESIGN": "外观设计"}
# Written with blanks, prefix and dot, a number is never this long: refuse longer unread.
MAX_RAW = 40


@dataclass(frozen=True, slots=True)
class PatentNumber:
    """A number that passed :func:`validate`, with its parts decoded."""

    number: str  # the normal form, e.g. "201710601862.3"
    year: int  # year of filing, four digits
    kind_digit: str
    kind: str  # INVENTION, UTILITY_MODEL or DESIGN
    pct: bool  # kind digit 8 or 9
    serial: str
    legacy: bool  # the 8-digit form of 1985-2003


def check_character(digits: str) -> str:
    """The check character of an application number's 8 or 12 digits."""
    if len(digits) not in (8, 12) or any(c not in string.digits for c in digits):
        raise ValueError(f"expected 8 or 12 digits, not {digits!r}")
    total = sum(int(c) * _WEIGHTS[i % len(_WEIGHTS)] for i, c in enumerate(digits))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize(raw: str) -> str:
    """The number without prefix and blanks, upper case, with a dot before the check.

    Text that is not a number at all is returned cleaned but otherwise as it is, for
    :func:`problem` to name what is wrong.
    """
    if not isinstance(raw, str):
        raise TypeError(f"a patent number is a str, not {type(raw).__name__}")
    text = "".join(unicodedata.normalize("NFKC", raw).split()).upper()
    for prefix in ("ZL", "CN"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if "." not in text and len(text) in (9, 13):
        text = f"{text[:-1]}.{text[-1]}"
    return text


def problem(raw: str) -> tuple[str, str] | None:
    """``(rule, message)`` for the first rule ``raw`` breaks, or None when it is valid.

    Rules: ``empty``, ``format``, ``year``, ``kind``, ``check_digit``.
    """
    try:
        validate(raw)
    except InvalidPatentNumber as error:
        return error.reason, str(error)
    return None


def validate(raw: str) -> PatentNumber:
    """Normalise ``raw`` and check it; raise InvalidPatentNumber naming the broken rule."""
    if len(raw) > MAX_RAW:
        raise _fail("format", f"{raw[:20]!r}... has {len(raw):,} characters: not a patent number")
    number = normalize(raw)
    if not number:
        raise _fail("empty", "the patent number is empty")
    digits, dot, check = number.rpartition(".")
    if not dot or len(digits) not in (8, 12) or any(c not in string.digits for c in digits) \
            or len(check) != 1 or check not in "0123456789X":  # fmt: skip
        raise _fail(
            "format",
            f"{number!r} is not an application number: 12 digits (or 8 before 2003), '.', "
            "a check character 0-9 or X",
        )
    legacy = len(digits) == 8
    if legacy:  # two digits: 85-99 are 1985-1999, 00-03 are 2000-2003
        year = int(digits[:2]) + (1900 if int(digits[:2]) >= _FIRST_YEAR % 100 else 2000)
    else:
        year = int(digits[:4])
    lo, hi = (_FIRST_YEAR, NEW_FORM_FROM) if legacy else (NEW_FORM_FROM, 2100)
    if not lo <= year <= hi:
        form = "8-digit numbers run 1985-2003" if legacy else "12-digit numbers start in 2003"
        raise _fail("year", f"{number!r} has filing year {year}: {form}")
    kind_digit = digits[2] if legacy else digits[4]
    if kind_digit not in KIND_DIGITS:
        raise _fail(
            "kind",
            f"{number!r} has kind digit {kind_digit!r}: 1 invention, 2 utility model, "
            "3 design, 8/9 PCT",
        )
    expected = check_character(digits)
    if check != expected:
        raise _fail(
            "check_digit",
            f"{number!r} ends in {check!r}, but its check character is {expected!r} "
            "(weights 2-9 mod 11; rule [unconfirmed], see schemas/patent_no.py)",
        )
    return PatentNumber(
        number=number, year=year, kind_digit=kind_digit, kind=KIND_DIGITS[kind_digit],
        pct=kind_digit in "89", serial=digits[3:] if legacy else digits[5:], legacy=legacy,
    )  # fmt: skip


def _fail(reason: str, message: str) -> InvalidPatentNumber:
    return InvalidPatentNumber(message, reason=reason)
