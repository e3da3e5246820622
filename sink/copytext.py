"""Rows -> PostgreSQL's COPY text format, made where the rows are built. Pure, no I/O.

``sink rebuild`` decodes in worker processes; sending their rows back as Python objects
(dates, decimals, tuples) cost the main process as much as writing them, and asyncpg
encodes records only on the connection. So the workers encode each profile's rows as
COPY lines here, and the main process hands PostgreSQL the bytes (``format='text'``).

The format (PostgreSQL's ``COPY ... FROM STDIN``, text): one line per row, columns
separated by tabs, ``\\N`` for null, and a backslash, tab, newline or carriage return in a
value written as ``\\\\``, ``\\t``, ``\\n``, ``\\r``. Values are written as PostgreSQL reads
them back to what asyncpg's binary encoding of the same Python value stores:

| Python | column | written |
|---|---|---|
| ``str`` | text, jsonb | as is, escaped |
| ``bool`` | boolean | ``t`` / ``f`` |
| ``int`` | integer, bigint | decimal digits |
| ``Decimal`` | numeric | ``str()``: ``12.50``, ``1E+3``, ``NaN`` |
| ``date`` | date | ISO 8601 |
| ``datetime`` | timestamptz | ISO 8601 with its offset; a naive one is UTC, as asyncpg takes it |
| ``list`` of ``str`` | text[] | an array literal, every element quoted |

Anything else is a TypeError: the row layout (readmodel/rows.py) has no other type.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from typing import Any

__all__ = ["copy_line", "copy_lines"]

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    # Most values need no escape: check before paying for translate.
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def _element(value: str) -> str:
    """One element of an array literal: quoted, its quote and backslash escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(value: Any) -> str:  # noqa: PLR0911 - one return per type
    kind = type(value)
    if kind is str:
        return _text(value)
    if value is None:
        return "\\N"
    if kind is bool:
        return "t" if value else "f"
    if kind is int:
        return str(value)
    if kind is decimal.Decimal:
        return str(value)
    if kind is dt.date:
        return value.isoformat()  # type: ignore[no-any-return]
    if kind is dt.datetime:
        text: str = value.isoformat()
        return text if value.tzinfo is not None else text + "+00:00"
    if kind is list:
        if not all(type(x) is str for x in value):
            raise TypeError(f"an array of {[type(x).__name__ for x in value]} is not text[]")
        return _text("{" + ",".join(_element(x) for x in value) + "}")
    raise TypeError(f"{kind.__name__} has no COPY text form here")


def copy_line(row: Iterable[Any]) -> str:
    """One row as a COPY text line, its newline included."""
    return "\t".join(map(_field, row)) + "\n"


def copy_lines(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as COPY text lines."""
    return "".join(map(copy_line, rows))
