"""Through ``zjcredit produce``: every hostile row is rejected with its reason, the rest sent.

Hypothesis takes the example files' rows and breaks one bound in some of them (a field
past its length, a control character, an amount past ``decimal(18,2)``, a date outside
the window, a report from the future, a credit code in a sea of blanks); the producer
(dry run: the same parsing and checks, no broker) must reject exactly those rows, each
with the reason and field planted, and keep every other one: read = valid + rejected.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.produce import produce_file
from schemas.bounds import DEFAULT_MAX_LENGTH, MAX_LENGTH

EXAMPLES = Path(__file__).parents[3] / "examples"
_TEXT = {"name", "decision_no", "reason", "mark_name", "pledgee", "authority",
         "recognised_by", "evaluating_office", "industry_code"}  # fmt: skip
_AMOUNTS = {"amount", "registered_capital", "secured_amount", "penalty_amount"}
_DATES = {"established_on", "listed_on", "valid_from", "valid_until", "planned_end_on",
          "removed_on", "overdue_since", "pledge_until"}  # fmt: skip


def _rows(source: str) -> tuple[list[str], list[dict[str, str]]]:
    with (EXAMPLES / f"{source}.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@st.composite
def breaker(draw: st.DrawFn, row: dict[str, str]) -> tuple[str, str, str]:
    """``(field, hostile value, expected reason)`` for one field this row has filled."""
    filled = sorted(k for k, v in row.items() if v)
    choices: list[tuple[str, st.SearchStrategy[str], str]] = []
    for field in filled:
        if field in _TEXT:
            limit = MAX_LENGTH.get(field, DEFAULT_MAX_LENGTH)
            choices.append((field, st.sampled_from(["浙", "a", "e\u0301"]).map(
                lambda s, n=limit: s * (n // len(s) + 1)), "too_long"))  # fmt: skip
            choices.append((field, st.sampled_from(["\x00", "\x1b", "\u200b", "\u202e"]).map(
                lambda c, v=row[field]: v[:1] + c + v[1:]), "control_character"))  # fmt: skip
        if field in _AMOUNTS:
            choices.append((field, st.sampled_from(
                ["10000000000000000.00", "-99999999999999999", "1,000,000,000,000,000,000.00"]), "out_of_range"))  # fmt: skip
        if field in _DATES:
            choices.append((field, st.sampled_from(["1899-12-31", "2101-01-01"]), "out_of_range"))
        if field == "reported_at":
            choices.append((field, st.sampled_from(
                ["2107-03-01T10:00:00+08:00", "2099-12-31T00:00:00Z"]),
                "out_of_range|from_the_future"))  # fmt: skip
        if field == "uscc":
            # Under the CSV reader's own field limit (131,072: past it, a bad_csv reject).
            choices.append((field, st.integers(65, 100_000).map(
                lambda n, v=row[field]: v[:9] + " " * n + v[9:]), "too_long"))  # fmt: skip
    field, values, reason = draw(st.sampled_from(choices))
    return field, draw(values), reason


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), source=st.sampled_from(["enterprise", "tax", "trademark", "blacklist"]))
def test_every_hostile_row_is_rejected_with_its_reason_and_the_rest_kept(
    data: st.DataObject, source: str
) -> None:
    header, rows = _rows(source)
    broken = data.draw(st.sets(st.integers(0, len(rows) - 1), min_size=1, max_size=5))
    planted: dict[int, tuple[str, str]] = {}  # file line -> (field, reason)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for index, row in enumerate(rows):
        written = row
        if index in broken:
            field, value, reason = data.draw(breaker(row), label=f"row {index}")
            written = {**row, field: value}
            planted[index + 2] = (field, reason)  # line 1 is the header
        writer.writerow(written)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{source}.csv"
        path.write_text(out.getvalue(), encoding="utf-8")

        summary = produce_file(source, path, bootstrap_servers=None, dry_run=True,
                               show_progress=False, workers=0)  # fmt: skip

        rejects = [json.loads(x) for x in
                   path.with_name(path.name + ".rejects.jsonl").read_text("utf-8").splitlines()]  # fmt: skip
    assert summary.read == len(rows) == summary.sent + summary.rejected
    got = {x["line"]: (x["field"], x["reason"]) for x in rejects}
    assert got.keys() == planted.keys(), rejects
    for line, (field, reason) in planted.items():
        assert got[line][0] == field, rejects
        assert got[line][1] in reason.split("|"), rejects
