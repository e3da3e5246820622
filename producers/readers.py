"""Stream the rows of a department's export, CSV or JSON Lines, in constant memory.

Every row comes out with the line it starts on and the text it was read from, so a
rejected row can be written out as it was. A row that is not valid UTF-8, not valid
JSON, or has more fields than the header is still yielded, with ``problem`` set: the
caller rejects it and goes on with the next one.

Example::

    for row in read_rows(Path("tax_2017.csv")):
        print(row.line, row.fields or row.problem)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["RawRow", "RowReader", "detect_format", "header_of", "read_rows"]

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class RawRow:
    """One row: its first line number, its fields (None if unreadable) and its source text."""

    line: int
    fields: dict[str, Any] | None
    text: str
    problem: str | None = None
    problem_reason: str | None = None


def detect_format(path: Path) -> str:
    """``csv`` or ``jsonl``, from the extension, else from the first non-blank byte."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(_BOM).lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


def read_rows(path: Path, fmt: str | None = None) -> Iterator[RawRow]:
    """Yield the rows of ``path`` (format detected unless given)."""
    with RowReader(path, fmt) as reader:
        yield from reader


class RowReader:
    """Rows of one file, plus how far into the file we are (for a progress bar).

    Use as a context manager; iterate for rows; :meth:`position` is the byte offset.
    """

    def __init__(self, path: Path, fmt: str | None = None) -> None:
        self.path = path
        self.format = fmt or detect_format(path)
        self.size = path.stat().st_size
        self._handle: BinaryIO | None = None

    def __enter__(self) -> RowReader:
        self._handle = self.path.open("rb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    def __iter__(self) -> Iterator[RawRow]:
        assert self._handle is not None, "use RowReader as a context manager"
        return _jsonl_rows(self._handle) if self.format == "jsonl" else _csv_rows(self._handle)

    def position(self) -> int:
        """Bytes consumed so far (read-ahead included, so it runs slightly early)."""
        return self._handle.tell() if self._handle is not None and not self._handle.closed else 0


def _jsonl_rows(handle: BinaryIO) -> Iterator[RawRow]:
    for number, line in enumerate(handle, start=1):
        raw = line.removeprefix(_BOM) if number == 1 else line
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            yield RawRow(
                number,
                None,
                raw.decode("utf-8", "replace").rstrip("\r\n"),
                f"not valid UTF-8 (byte {raw[error.start]:#04x} at column {error.start + 1})",
                "encoding",
            )
            continue
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as error:
            yield RawRow(
                number,
                None,
                text,
                f"not valid JSON: {error.msg} at column {error.colno}",
                "bad_json",
            )
            continue
        if not isinstance(fields, dict):
            yield RawRow(number, None, text, "a line must be a JSON object", "bad_json")
            continue
        yield RawRow(number, fields, text)


def _csv_rows(handle: BinaryIO) -> Iterator[RawRow]:
    # surrogateescape keeps undecodable bytes in the text, so one bad row does not stop
    # the file; we find them again below and reject just that row.
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _csv_records(csv.reader(text))
    finally:
        text.detach()  # the handle belongs to RowReader, which closes it


def _csv_records(reader: Any) -> Iterator[RawRow]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    first_line = reader.line_num + 1
    for values in reader:
        line, first_line = first_line, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        source = ",".join(values)
        bad = _undecodable(source)
        if bad is not None:
            shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield RawRow(line, None, shown, f"not valid UTF-8 (byte {bad:#04x})", "encoding")
            continue
        if len(values) > len(header):
            yield RawRow(
                line,
                None,
                source,
                f"{len(values)} fields but the header has {len(header)}",
                "bad_csv",
            )
            continue
        yield RawRow(line, dict(zip(header, values, strict=False)), source)


def _undecodable(text: str) -> int | None:
    for char in text:
        if "\udc80" <= char <= "\udcff":
            return ord(char) - 0xDC00
    return None


def header_of(path: Path, fmt: str | None = None) -> list[str]:
    """The CSV header (or the first JSON object's keys), for reporting unknown columns."""
    for row in read_rows(path, fmt):
        if row.fields is not None:
            return list(row.fields)
    return []
