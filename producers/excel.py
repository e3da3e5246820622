"""A department's Excel workbook (``.xlsx``) as JSON Lines the readers already read.

openpyxl reads the sheet in read-only mode, which streams its XML a row at a time, so a
large sheet takes constant memory (but for the workbook's shared-string table, which
openpyxl holds whole: one copy of each distinct text; measured, a 200,000-row sheet peaked
13 MB above a 20,000-row one). openpyxl is also the slow part: about 2,000-3,000 rows/s of
13 cells on a loaded 2-core machine, where a CSV is parsed many times faster. Each row is
written as one JSON object to a temporary ``.jsonl`` file, removed afterwards. Line N of
that file is row N of the sheet (the header row and empty rows are blank lines, which the
reader skips but counts), so a rejected row is named by its row number in Excel.

Cells become the text a CSV export would have held:

- a date or date-time cell (stored as an Excel serial date) -> ``2017-04-20`` when it has
  no time of day, else ``2017-04-20T09:30:00`` (Beijing time, as any zone-less time);
- a whole number -> ``2016`` (Excel stores every number as a float: ``2016.0`` is 2016);
  other numbers -> their shortest exact form (``1234.5``); numbers beyond 2^53 are not
  exact in Excel at all and are written as they are stored;
- a text cell stays text as typed, so a credit code or registration number typed as text
  keeps its leading zeros; TRUE/FALSE -> ``true`` / ``false``; formulas give the value
  Excel last computed (``data_only``).

A cell under a header cell that is empty goes under ``column G`` (its letter), which no
schema reads, so it is reported as an ignored column rather than silently dropped.

Example::

    with sheet_as_jsonl(Path("纳税信用.xlsx")) as sheet:
        print(sheet.name, sheet.header)
        rows = read_rows(sheet.path)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from producers.errors import UnreadableFileError

__all__ = ["Sheet", "cell_text", "sheet_as_jsonl"]

_EXACT = 2**53
# What a damaged sheet raises from inside openpyxl: its XML (ParseError is a SyntaxError),
# its zip member, or a cell openpyxl cannot make sense of.
_BROKEN = (SyntaxError, zipfile.BadZipFile, EOFError, zlib.error, ValueError, KeyError, TypeError)


@dataclass(frozen=True, slots=True)
class Sheet:
    """The sheet read: its name, its header (as typed) and its rows as JSON Lines."""

    path: Path
    name: str
    header: list[str]


def cell_text(value: Any) -> str | None:
    """A cell's value as the text the row parser reads (None: an empty cell)."""
    text: str | None
    if value is None or isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < _EXACT else repr(value)
    elif isinstance(value, dt.datetime) and value.time() == dt.time():
        text = value.date().isoformat()
    elif isinstance(value, dt.date | dt.time):  # a datetime is a date too
        text = value.isoformat()
    else:
        text = str(value)
    return text


@contextlib.contextmanager
def sheet_as_jsonl(path: Path, sheet: str | None = None) -> Iterator[Sheet]:
    """The first sheet of the workbook ``path`` (or the one named ``sheet``) as JSON Lines.

    Raises UnreadableFileError when ``path`` is not a workbook, has no such sheet, or the
    sheet is damaged (read whole before the caller gets it, so before any row is sent).
    """
    import openpyxl  # noqa: PLC0415 - only an Excel file pays for importing it
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    # A file object, not the path: openpyxl refuses a path without an .xlsx suffix (the
    # spooled standard input has none).
    handle = path.open("rb")
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        handle.close()
        raise UnreadableFileError(
            f"{path.name} is not an Excel workbook (.xlsx): {error}"
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            names = ", ".join(repr(n) for n in book.sheetnames)
            raise UnreadableFileError(f"{path.name} has no sheet {sheet!r}; its sheets: {names}")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        worksheet.reset_dimensions()  # the file's own size claim may be wrong: read to the end
        fd, name = tempfile.mkstemp(prefix="zjcredit-", suffix=".jsonl")
        target = Path(name)
        try:
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    header = _write_rows(worksheet.iter_rows(values_only=True), out)
            except _BROKEN as error:  # the whole sheet is read before a row is sent
                raise UnreadableFileError(
                    f"{path.name}: sheet {worksheet.title!r} is damaged "
                    f"({type(error).__name__}: {error}); nothing was sent"
                ) from None
            yield Sheet(target, worksheet.title, header)
        finally:
            target.unlink(missing_ok=True)
    finally:
        book.close()
        handle.close()


def _write_rows(rows: Iterator[tuple[Any, ...]], out: TextIO) -> list[str]:
    """Write the rows; the header's names, then the ``column G`` keys used for cells
    under an empty header cell."""
    header: list[str] = []
    unnamed: dict[str, None] = {}
    for number, values in enumerate(rows, start=1):
        if number == 1:
            header = [(cell_text(v) or "").strip() for v in values]
            out.write("\n")
            continue
        record = {}
        for index, value in enumerate(values):
            text = cell_text(value)
            if text is None or not text.strip():
                continue
            named = header[index] if index < len(header) else ""
            if not named:
                named = f"column {_letter(index)}"
                unnamed[named] = None
            record[named] = text
        out.write(json.dumps(record, ensure_ascii=False) + "\n" if record else "\n")
    return [h for h in header if h] + list(unnamed)


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
