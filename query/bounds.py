"""Bounds on what one request may make PostgreSQL do. Pure: no I/O.

- A name text must hold a trigram, so that the name's trigram index answers it
  (:func:`name_text`): ``LIKE '%ab%'`` has none, and PostgreSQL would read the table.
- A page reaches at most the :data:`PAGE_DEPTH`-th item (:func:`page_offset`): an
  ``offset`` of N reads and drops N rows first.

Both answer a 422 that says what was wrong and what works instead.
"""

from __future__ import annotations

import re

from query.errors import InvalidParameter

__all__ = ["PAGE_DEPTH", "TRIGRAM", "name_text", "page_offset"]

PAGE_DEPTH = 10_000
"""``(page - 1) * size + size`` at most: how deep any paged route reaches."""

TRIGRAM = 3
"""Letters or digits in a row that a name text needs (pg_trgm's trigram)."""

# pg_trgm cuts a text into words of letters and digits (the cluster's C.UTF-8 ctype
# counts CJK characters as letters) and indexes each word's three-character runs. In
# `LIKE '%text%'` a run of 3 such characters always gives it one trigram to look up.
_RUN = re.compile(rf"[^\W_]{{{TRIGRAM}}}")


def name_text(raw: str | None) -> str | None:
    """A search text, trimmed; 422 for one that is empty, has control characters
    (PostgreSQL refuses NUL), has no letter or digit, or lacks :data:`TRIGRAM` letters or
    digits in a row (``rule`` ``too_short``: no index can answer it)."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        raise InvalidParameter.one("q", "empty", "the search text is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidParameter.one("q", "characters", "the search text has control characters")
    if not any(c.isalnum() for c in text):
        raise InvalidParameter.one(
            "q", "no_letters",
            f"the search text {text!r} has no letter or digit: give a part of the name "
            f"({TRIGRAM} or more characters) or a whole credit code",
        )  # fmt: skip
    if _RUN.search(text) is None:
        raise InvalidParameter.one(
            "q", "too_short",
            f"the search text {text!r} is too short: a name search needs {TRIGRAM} letters "
            f"or digits in a row (no index answers fewer, and the whole table would be "
            f"read); give more of the name (杭州 -> 杭州市), a whole 18-character credit "
            f"code, or leave q out and filter by city, grade or sector",
        )  # fmt: skip
    return text


def page_offset(page: int, size: int) -> int:
    """The offset of ``page`` (from 1) of ``size`` items; 422 ``page_too_deep`` past
    :data:`PAGE_DEPTH` items."""
    offset = (page - 1) * size
    if offset + size > PAGE_DEPTH:
        raise InvalidParameter.one(
            "page", "page_too_deep",
            f"page {page} of size {size} reaches item {offset + size}: pages reach at most "
            f"item {PAGE_DEPTH:,}; narrow the filters (city, sector, grade, ...) or take "
            f"the whole list as an export (format=csv or format=jsonl) where the route has one",
            error="page_too_deep",
        )  # fmt: skip
    return offset
