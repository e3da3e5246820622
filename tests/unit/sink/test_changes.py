"""What the change feed counts as a change (sink/changes.py)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from sink.changes import Snapshot, notice_change, profile_changes, score_band

AT = dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC)
CODE = "91330106MA2B00001X"
GOOD = Snapshot("GOOD", 720, "B", True)


def kinds(old: Snapshot | None, new: Snapshot) -> list[tuple[str, object, object]]:
    return [(c.kind, c.before, c.after) for c in profile_changes(CODE, old, new, AT)]


def test_a_new_enterprise_has_nothing_it_changed_from() -> None:
    assert kinds(None, Snapshot("POOR", 100, "D", False)) == []


def test_the_same_row_again_is_no_change() -> None:
    assert kinds(GOOD, GOOD) == []


def test_a_grade_drop_with_a_tax_grade_and_a_refused_credit_line() -> None:
    worse = Snapshot("POOR", 380, "D", False)
    assert kinds(GOOD, worse) == [
        ("grade", "GOOD", "POOR"),
        ("score_band", 700, 300),
        ("tax_grade", "B", "D"),
        ("credit_line_refused", True, False),
    ]


def test_a_score_within_its_hundred_is_no_change_and_across_it_is() -> None:
    assert kinds(GOOD, Snapshot("GOOD", 799, "B", True)) == []
    assert kinds(GOOD, Snapshot("GOOD", 699, "B", True)) == [("score_band", 700, 600)]


def test_a_credit_line_refused_once_is_not_refused_again() -> None:
    refused = Snapshot("GOOD", 720, "B", False)
    assert kinds(Snapshot("GOOD", 720, "B", None), refused) == [
        ("credit_line_refused", None, False)
    ]
    assert kinds(refused, refused) == []
    assert kinds(refused, GOOD) == []  # eligible again is not a refusal


def test_a_first_tax_grade_is_a_change_from_none() -> None:
    assert kinds(Snapshot("GOOD", 720, None, None), Snapshot("GOOD", 720, "A", True)) == [
        ("tax_grade", None, "A")
    ]


def _notice(kind: str, sectors: list[str]) -> dict[str, object]:
    return {"kind": kind, "uscc": CODE, "sector": sectors[0] if kind != "ESCALATED" else None,
            "sectors": sectors, "reported_at": AT, "notice_id": "n-1", "decision_no": "浙税罚[2026]1号",
            "listing_department": "SAT", "reason": "偷税"}  # fmt: skip


def test_notices_are_listed_lifted_and_escalated() -> None:
    listed = notice_change(_notice("IMPOSED", ["TAX"]))
    assert (listed.kind, listed.before, listed.after) == ("listed", None, "TAX")
    assert listed.detail == {"notice_id": "n-1", "decision_no": "浙税罚[2026]1号",
                             "department": "SAT", "reason": "偷税"}  # fmt: skip
    lifted = notice_change(_notice("LIFTED", ["TAX"]))
    assert (lifted.kind, lifted.before, lifted.after) == ("lifted", "TAX", None)
    escalated = notice_change(_notice("ESCALATED", ["TAX", "ENV"]))
    assert (escalated.kind, escalated.before, escalated.after) == (
        "escalated",
        None,
        ["ENV", "TAX"],
    )


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_a_score_band_change_is_exactly_a_move_across_a_hundred(a: int, b: int) -> None:
    changes = kinds(Snapshot("GOOD", a, "B", True), Snapshot("GOOD", b, "B", True))
    assert bool(changes) == (a // 100 != b // 100)
    assert score_band(a) <= a < score_band(a) + 100
