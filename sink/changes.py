"""What counts as a change for the change feed (GET /v1/changes): pure, no I/O.

The sink compares, per enterprise, the row it is about to replace with the row it writes
(:func:`profile_changes`), and turns each notice it stores for the first time into one
change (:func:`notice_change`). A bank watching a portfolio wants the moves that alter a
credit decision, not every new version of a profile:

| kind                  | when                                                  | before / after  |
|-----------------------|-------------------------------------------------------|-----------------|
| `grade`               | the published grade changed (优秀/良好/中等/较差)      | the grades      |
| `score_band`          | the score crossed a hundred (700 -> 690: 700 -> 600)   | the bands       |
| `tax_grade`           | the latest tax credit grade changed                    | the grades      |
| `credit_line_refused` | the bank-tax credit line became not eligible           | eligible, false |
| `listed`              | a key-sector listing was imposed (IMPOSED notice)      | null, sector    |
| `lifted`              | a listing was lifted (LIFTED notice)                   | sector, null    |
| `escalated`           | dishonesty in several sectors (ESCALATED notice)      | null, sectors   |

An enterprise seen for the first time has no changes of its own: there is nothing it
changed from (its listings still come as ``listed``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Change", "Snapshot", "notice_change", "profile_changes", "score_band"]

KINDS = ("grade", "score_band", "listed", "lifted", "escalated", "tax_grade",
         "credit_line_refused")  # fmt: skip
_NOTICE_KINDS = {"IMPOSED": "listed", "LIFTED": "lifted", "ESCALATED": "escalated"}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The fields of an enterprise row that a change is made of."""

    grade: str
    score: int
    tax_grade: str | None
    credit_eligible: bool | None


@dataclass(frozen=True, slots=True)
class Change:
    uscc: str
    kind: str
    before: Any
    after: Any
    reported_at: dt.datetime
    detail: Mapping[str, Any] | None = None


def score_band(score: int) -> int:
    """The hundred a score is in: 0, 100, ..., 1000."""
    return score // 100 * 100


def profile_changes(uscc: str, old: Snapshot | None, new: Snapshot,
                    reported_at: dt.datetime) -> list[Change]:  # fmt: skip
    """The changes from ``old`` (None: a new enterprise) to ``new``, in the table's order."""
    if old is None:
        return []
    found: list[Change] = []

    def moved(kind: str, before: Any, after: Any) -> None:
        if before != after:
            found.append(Change(uscc, kind, before, after, reported_at))

    moved("grade", old.grade, new.grade)
    moved("score_band", score_band(old.score), score_band(new.score))
    moved("tax_grade", old.tax_grade, new.tax_grade)
    if new.credit_eligible is False and old.credit_eligible is not False:
        found.append(Change(uscc, "credit_line_refused", old.credit_eligible, False, reported_at))
    return found


def notice_change(notice: Mapping[str, Any]) -> Change:
    """The change a newly stored joint-penalty notice (its row's columns) makes."""
    kind, uscc, sector = _NOTICE_KINDS[notice["kind"]], notice["uscc"], notice["sector"]
    reported_at = notice["reported_at"]
    detail = {"notice_id": notice["notice_id"], "decision_no": notice["decision_no"],
              "department": notice["listing_department"], "reason": notice["reason"]}  # fmt: skip
    if kind == "listed":
        return Change(uscc, kind, None, sector, reported_at, detail)
    if kind == "lifted":
        return Change(uscc, kind, sector, None, reported_at, detail)
    return Change(uscc, kind, None, sorted(notice["sectors"]), reported_at, detail)
