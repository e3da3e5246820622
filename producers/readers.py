"""Stream a department's export, CSV or JSON Lines, in constant memory.

The file is read in chunks of whole records (a CSV record may span lines inside
quotes); each chunk is raw bytes plus the number of its first line, cheap to hand to an
encoder process, where :func:`rows_of` turns it into rows. Every row comes out with the
line it starts on and its original text, so a rejected row can be written out as it
was. A row that is not valid UTF-8, not valid JSON, or has more fields than the header
is still yielded, with ``problem`` set: the caller rejects it and goes on.

The readers read UTF-8 (a file in another encoding is transcoded first:
producers/decoding.py; ``encoding`` only names the original's encoding in messages). A
CSV whose header has tabs and no commas is tab-separated (Excel's "Unicode text").

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

__all__ = ["Chunk", "ChunkReader", "RawRow", "detect_format", "header_of", "read_rows", "rows_of"]

_BOM = b"\xef\xbb\xbf"
CHUNK_RECORDS = 2000


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row: its first line number, its fields (None if unreadable) and its source text."""

    line: int
    fields: dict[str, Any] | None
    text: str
    problem: str | None = None
    problem_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """Whole records of a file as bytes; ``header`` is the CSV header (None for JSON Lines)."""

    format: str
    header: tuple[str, ...] | None
    first_line: int
    data: bytes
    delimiter: str = ","
    encoding: str = "UTF-8"  # the original file's, for messages


def detect_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``xlsx``, from the extension, else from the first bytes (a zip
    archive is taken for a workbook: producers/excel.py reads those, not this module)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    return "jsonl" if head.removeprefix(_BOM).lstrip().startswith(b"{") else "csv"


class ChunkReader:
    """The chunks of one file, plus how far into it we are (for a progress bar).

    Use as a context manager; iterate for :class:`Chunk`; :meth:`position` is the byte
    offset reached.
    """

    def __init__(self, path: Path, fmt: str | None = None, records: int = CHUNK_RECORDS,
                 encoding: str = "UTF-8") -> None:  # fmt: skip
        self.path = path
        self.format = fmt or detect_format(path)
        self.size = path.stat().st_size
        self.records = records
        self.encoding = encoding
        self._handle: BinaryIO | None = None

    def __enter__(self) -> ChunkReader:
        self._handle = self.path.open("rb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    def position(self) -> int:
        return self._handle.tell() if self._handle is not None and not self._handle.closed else 0

    def __iter__(self) -> Iterator[Chunk]:
        assert self._handle is not None, "use ChunkReader as a context manager"
        handle = self._handle
        header: tuple[str, ...] | None = None
        delimiter = ","
        line_no = 0
        if self.format == "csv":
            line_no, header, delimiter = _read_header(handle)
            if header is None:
                return

        def chunk(data: bytes, first: int) -> Chunk:
            return Chunk(self.format, header, first, data, delimiter, self.encoding)

        lines: list[bytes] = []
        first = line_no + 1
        records = 0
        in_quotes = False
        for line in handle:
            line_no += 1
            if line_no == 1:
                line = line.removeprefix(_BOM)  # noqa: PLW2901 - the BOM is not data
            lines.append(line)
            # A CSV record ends at a newline outside quotes; quotes are counted per line.
            if self.format == "csv" and line.count(b'"') % 2:
                in_quotes = not in_quotes
            if not in_quotes:
                records += 1
                if records == self.records:
                    yield chunk(b"".join(lines), first)
                    lines, first, records = [], line_no + 1, 0
        if lines:
            yield chunk(b"".join(lines), first)


def _read_header(handle: BinaryIO) -> tuple[int, tuple[str, ...] | None, str]:
    """The header's line count, its names and the file's delimiter."""
    line = handle.readline().removeprefix(_BOM)
    if not line:
        return 0, None, ","
    text = line.decode("utf-8", "replace")
    delimiter = "\t" if "\t" in text and "," not in text else ","
    names = next(csv.reader([text], delimiter=delimiter), [])
    return 1, tuple(h.strip() for h in names), delimiter


def rows_of(chunk: Chunk) -> Iterator[RawRow]:
    """The rows of a chunk (runs in the encoder process)."""
    if chunk.format == "jsonl":
        return _jsonl_rows(chunk)
    assert chunk.header is not None
    return _csv_rows(chunk, chunk.header)


def read_rows(path: Path, fmt: str | None = None, encoding: str = "UTF-8") -> Iterator[RawRow]:
    """Every row of ``path`` (a UTF-8 file; format detected unless given)."""
    with ChunkReader(path, fmt, encoding=encoding) as reader:
        for chunk in reader:
            yield from rows_of(chunk)


def header_of(path: Path, fmt: str | None = None) -> list[str]:
    """The CSV header (or the first JSON object's keys), for reporting unknown columns."""
    if (fmt or detect_format(path)) == "csv":
        with path.open("rb") as handle:
            return list(_read_header(handle)[1] or ())
    for row in read_rows(path, fmt):
        if row.fields is not None:
            return list(row.fields)
    return []


def _jsonl_rows(chunk: Chunk) -> Iterator[RawRow]:
    for number, raw in enumerate(chunk.data.split(b"\n"), start=chunk.first_line):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as error:
            shown = raw.decode("utf-8", "replace").rstrip("\r")
            problem = (
                f"not valid {chunk.encoding} (byte {raw[error.start]:#04x} "
                f"at column {error.start + 1})"
            )
            yield RawRow(number, None, shown, problem, "encoding")
            continue
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as error:
            problem = f"not valid JSON: {error.msg} at column {error.colno}"
            yield RawRow(number, None, text, problem, "bad_json")
            continue
        if not isinstance(fields, dict):
            yield RawRow(number, None, text, "a line must be a JSON object", "bad_json")
            continue
        yield RawRow(number, fields, text)


def _csv_rows(chunk: Chunk, header: tuple[str, ...]) -> Iterator[RawRow]:
    try:
        text, clean = chunk.data.decode("utf-8"), True
    except UnicodeDecodeError:
        # surrogateescape keeps the undecodable bytes, so only their rows are rejected.
        text, clean = chunk.data.decode("utf-8", "surrogateescape"), False
    delimiter = chunk.delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    offset = chunk.first_line - 1
    start = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RawRow(offset + start, None, "", f"malformed CSV: {error}", "bad_csv")
            start = reader.line_num + 1
            continue
        line, start = offset + start, reader.line_num + 1
        if not any(map(str.strip, values)):  # a blank line, or only blanks and commas
            continue
        # The row's own text is kept only for rows that can have no fields to show.
        source = "" if clean and len(values) <= len(header) else delimiter.join(values)
        bad = None if clean else _undecodable(source)
        if bad is not None:
            shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            problem = f"not valid {chunk.encoding} (byte {bad:#04x})"
            yield RawRow(line, None, shown, problem, "encoding")
        elif len(values) > len(header):
            problem = f"{len(values)} fields but the header has {len(header)}"
            yield RawRow(line, None, source, problem, "bad_csv")
        else:
            yield RawRow(line, dict(zip(header, values, strict=False)), source)


def _undecodable(text: str) -> int | None:
    for char in text:
        if "\udc80" <= char <= "\udcff":
            return ord(char) - 0xDC00
    return None
