"""Excel workbooks as departments save them, written here by openpyxl itself."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from prometheus_client import CollectorRegistry

from producers.errors import UnreadableFileError
from producers.excel import cell_text, sheet_as_jsonl
from producers.metrics import ProducerMetrics
from producers.produce import ProduceSummary, produce_file
from producers.readers import read_rows
from producers.rows import RowParser
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

EXAMPLES = Path(__file__).parents[3] / "examples"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CHINESE = {"uscc": "统一社会信用代码", "name": "企业名称", "established_on": "成立日期",
           "registered_capital": "注册资本（元）"}  # fmt: skip


def typed(name: str, text: str) -> Any:
    """A CSV value as a clerk's Excel holds it: dates as dates, numbers as numbers."""
    if not text:
        return None
    if name in ("occurred_at", "reported_at"):  # Beijing wall time, as Excel has no zones
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    if name == "established_on":
        return dt.date.fromisoformat(text)
    if name in ("city_code", "district_code", "zjtx_year"):
        return int(text)
    if name == "registered_capital":
        return float(text)
    return text


def enterprise_workbook(path: Path) -> list[dict[str, str]]:
    """examples/enterprise.csv as a workbook: Chinese headers, typed cells, a blank row 4,
    a second sheet; returns the CSV's rows."""
    rows = list(csv.DictReader(io.StringIO((EXAMPLES / "enterprise.csv").read_text("utf-8"))))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "企业登记"
    names = list(rows[0])
    sheet.append([CHINESE.get(n, n) for n in names])
    for number, row in enumerate(rows, start=2):
        if number == 4:
            sheet.append([])
        sheet.append([typed(n, row[n]) for n in names])
    other = book.create_sheet("说明")
    other.append(["这张表不是数据"])
    book.save(path)
    return rows


def dry_run(source: str, path: Path, **kwargs: Any) -> ProduceSummary:
    return produce_file(source, path, bootstrap_servers=None, dry_run=True, show_progress=False,
                        metrics=ProducerMetrics(CollectorRegistry()), workers=0, **kwargs)  # fmt: skip


def test_a_workbook_gives_the_same_events_as_the_csv(tmp_path: Path) -> None:
    path = tmp_path / "企业.xlsx"
    rows = enterprise_workbook(path)
    notes: list[str] = []
    summary = dry_run("enterprise", path, notice=notes.append)
    assert notes == ["reading 企业.xlsx, sheet '企业登记'"]
    assert (summary.read, summary.rejected, summary.sheet) == (len(rows), 0, "企业登记")
    assert summary.ignored_columns == []
    assert "  sheet         企业登记" in summary.lines()

    parser = RowParser("enterprise", ManifestRegistry.load().latest("enterprise"), load_catalog())
    from_csv = [parser.parse(r.fields or {}, NOW) for r in read_rows(EXAMPLES / "enterprise.csv")]
    with sheet_as_jsonl(path) as sheet:
        read = list(read_rows(sheet.path))
        assert [r.line for r in read] == [2, 3, *range(5, len(rows) + 3)]  # row 4 is blank
        assert sheet.header[:2] == ["统一社会信用代码", "department"]
    assert [parser.parse(r.fields or {}, NOW) for r in read] == from_csv
    assert not sheet.path.exists()


def test_a_bad_row_is_named_by_its_excel_row_number(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    enterprise_workbook(path)
    book = openpyxl.load_workbook(path)
    book["企业登记"]["A5"] = "91330100716105852X"  # a wrong check character
    book["企业登记"]["Z5"] = "stray"  # under no header
    book.save(path)
    summary = dry_run("enterprise", path)
    assert summary.rejects_by_reason == {"invalid_credit_code": 1}
    (reject,) = map(json.loads, (tmp_path / "e.xlsx.rejects.jsonl").read_text().splitlines())
    assert reject["line"] == 5
    assert reject["row"]["统一社会信用代码"] == "91330100716105852X"
    assert summary.ignored_columns == ["column Z"]


def test_a_named_sheet_and_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    enterprise_workbook(path)
    book = openpyxl.load_workbook(path)
    book.move_sheet("说明", offset=-1)  # now the first sheet is not the data
    book.save(path)
    assert dry_run("enterprise", path, sheet="企业登记").rejected == 0
    with pytest.raises(UnreadableFileError, match="no sheet 'tax'; its sheets: '说明', '企业登记'"):
        dry_run("enterprise", path, sheet="tax")


def test_files_that_are_not_workbooks_are_refused_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableFileError, match=r"broken.xlsx is not an Excel workbook"):
        dry_run("tax", broken)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    with pytest.raises(UnreadableFileError, match=r"\.xls\): save it as \.xlsx or CSV"):
        dry_run("tax", old)
    csv_file = tmp_path / "tax.csv"
    csv_file.write_bytes((EXAMPLES / "tax.csv").read_bytes())
    with pytest.raises(UnreadableFileError, match=r"is not \.xlsx"):
        dry_run("tax", csv_file, sheet="Sheet1")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (2016.0, "2016"),  # Excel's numbers are floats
        (2016, "2016"),
        (1234.5, "1234.5"),
        (0.1, "0.1"),
        (2.0**60, repr(2.0**60)),  # beyond exact integers: as stored
        ("00123", "00123"),  # typed as text: leading zeros kept
        ("91330100716105852F", "91330100716105852F"),
        (True, "true"),
        (dt.datetime(2017, 4, 20), "2017-04-20"),
        (dt.datetime(2017, 4, 20, 9, 30), "2017-04-20T09:30:00"),
        (dt.date(2017, 4, 20), "2017-04-20"),
        (dt.time(9, 30), "09:30:00"),
    ],
)
def test_cell_values_become_the_text_a_csv_would_hold(value: Any, text: str | None) -> None:
    assert cell_text(value) == text


def test_a_damaged_sheet_is_refused_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole.xlsx"
    enterprise_workbook(whole)
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(damaged, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # a download cut short, inside the sheet
            out.writestr(item, data)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the sheet's copy goes
    with pytest.raises(
        UnreadableFileError, match=r"sheet '企业登记' is damaged .*nothing was sent"
    ):
        dry_run("enterprise", damaged)
    assert list(scratch.iterdir()) == [], "the half-written copy is left behind"
