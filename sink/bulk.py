"""A profile as ``sink rebuild`` writes it: its rows as COPY text lines. Pure, no I/O.

Built in the decoding process (:func:`sink.convert.convert` with ``bulk``), so what
crosses to the writing process is a few byte strings per profile, not its rows' Python
objects (:mod:`sink.copytext` says why), with what the writer needs besides the lines:
the enterprise and version (the newest of a batch wins), whether the profile needs the
read model's v2 upgrade, and the fields a change is made of. A named tuple of plain
values, because pickling it is a C loop (a dataclass cost the writing process about a
fifth of its time unpickling).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from readmodel import rows as r
from sink.changes import Snapshot
from sink.copytext import copy_line, copy_lines

__all__ = ["TABLES", "CopyProfile", "copy_profile"]

TABLES = ("enterprise", "listing", "penalty_measure", "tax_grade", "trademark")
"""The tables of :attr:`CopyProfile.lines`, in its order."""
_AT = {c: i for i, c in enumerate(r.ENTERPRISE)}


class CopyProfile(NamedTuple):
    """One profile's rows as COPY text lines, UTF-8: ``lines[i]`` holds its rows of
    ``TABLES[i]`` (one ``enterprise`` line, any number of the others)."""

    uscc: str
    version: int
    upgrade: bool
    grade: str
    score: int
    tax_grade: str | None
    credit_eligible: bool | None
    reported_at: dt.datetime
    lines: tuple[bytes, bytes, bytes, bytes, bytes]

    @property
    def snapshot(self) -> Snapshot:
        return Snapshot(self.grade, self.score, self.tax_grade, self.credit_eligible)


def copy_profile(rows: r.ProfileRows) -> CopyProfile:
    """``rows`` (readmodel/rows.py ``profile_rows``) as COPY text lines."""
    e = rows.enterprise
    lines = (copy_line(e), copy_lines(rows.listings), copy_lines(rows.measures),
             copy_lines(rows.tax_grades), copy_lines(rows.trademarks))  # fmt: skip
    return CopyProfile(
        e[0], e[_AT["version"]], rows.upgrade, e[_AT["grade"]], e[_AT["score"]],
        e[_AT["tax_grade"]], e[_AT["credit_eligible"]], e[_AT["last_reported_at"]],
        (lines[0].encode(), lines[1].encode(), lines[2].encode(), lines[3].encode(),
         lines[4].encode()),
    )  # fmt: skip
