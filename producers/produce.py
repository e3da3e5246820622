"""``zjcredit produce SOURCE FILE``: stream a department's export into Kafka.

Reads CSV or JSON Lines (in UTF-8, UTF-16 or GB18030, detected or forced:
producers/decoding.py) or an Excel sheet (producers/excel.py) in constant memory, rejects
bad rows (each written to
``FILE.rejects.jsonl`` with its line number, reason and original text) and keeps going,
sends the good ones, and ends with a summary of what was read, sent, acknowledged and
rejected. Exit status: 0 all rows went, 1 some rows were rejected, 2 publishing failed
(the summary then says exactly how many rows Kafka acknowledged; event ids are
deterministic, so sending the same file again is safe), 64 (EX_USAGE) the command line
was wrong (the command's: producers/command.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from producers.decoding import EncodingChoice, utf8_view
from producers.encoding import ChunkEncoder, Rejected
from producers.errors import PublishError, UnreadableFileError
from producers.excel import sheet_as_jsonl
from producers.metrics import ProducerMetrics
from producers.publisher import Publisher
from producers.readers import ChunkReader, detect_format, header_of
from producers.rows import RowParser
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

__all__ = [
    "EXIT_OK",
    "EXIT_PUBLISH_FAILED",
    "EXIT_REJECTS",
    "EXIT_USAGE",
    "ProduceSummary",
    "auto_workers",
    "produce_file",
]

EXIT_OK, EXIT_REJECTS, EXIT_PUBLISH_FAILED = 0, 1, 2
EXIT_USAGE = 64  # EX_USAGE of sysexits.h: distinct from "publishing failed"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an old binary .xls (and .doc): not read
# Below this a file is encoded in-process: starting the workers (about a second for the
# first pool of a process) costs more than they save.
_PARALLEL_FROM_BYTES = 256 * 1024


@dataclass
class ProduceSummary:
    """The tally a clerk needs to know what happened to the file."""

    source: str
    path: Path
    read: int = 0
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    shared_columns: dict[str, list[str]] = field(default_factory=dict)  # field -> its columns
    error: str | None = None
    dry_run: bool = False
    encoding: EncodingChoice = field(default_factory=lambda: EncodingChoice("utf-8", "default"))
    sheet: str | None = None  # the workbook's sheet read, for an .xlsx file

    @property
    def rejects_file(self) -> Path | None:
        return rejects_path(self.path) if self.rejected else None

    def as_dict(self) -> dict[str, Any]:
        """The summary as one JSON-ready object (``zjcredit produce --json``)."""
        return {
            "file": str(self.path),
            "source": self.source,
            "encoding": {"name": self.encoding.label, "why": self.encoding.why},
            "sheet": self.sheet,
            "dry_run": self.dry_run,
            "read": self.read,
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "rejected": self.rejected,
            "rejects_by_reason": dict(self.rejects_by_reason.most_common()),
            "rejects_file": None if self.rejects_file is None else str(self.rejects_file),
            "ignored_columns": self.ignored_columns,
            "shared_columns": self.shared_columns,
            "error": self.error,
            "exit_code": self.exit_code,
        }

    @property
    def exit_code(self) -> int:
        if self.error is not None or (not self.dry_run and self.acknowledged < self.sent):
            return EXIT_PUBLISH_FAILED
        return EXIT_REJECTS if self.rejected else EXIT_OK

    def lines(self) -> list[str]:
        verb = "valid (dry run, nothing sent)" if self.dry_run else "sent"
        out = [
            f"{self.path}: {self.source}",
        ]
        if self.encoding.why != "default":
            out.append(f"  encoding      {self.encoding.label} ({self.encoding.why})")
        if self.sheet is not None:
            out.append(f"  sheet         {self.sheet}")
        out += [
            f"  read          {self.read}",
            f"  {verb:<13} {self.sent}",
        ]
        if not self.dry_run:
            out.append(f"  acknowledged  {self.acknowledged}")
        out.append(f"  rejected      {self.rejected}")
        out += [f"    {reason:<22} {n}" for reason, n in self.rejects_by_reason.most_common()]
        if self.rejects_by_reason["encoding"] and self.encoding.is_utf8:
            out.append(
                f"  {self.rejects_by_reason['encoding']} rows are not valid UTF-8; if the file "
                "is in another encoding, say which: --encoding gb18030 (or gbk, utf-16)"
            )
        if self.rejected:
            out.append(f"  rejected rows: {rejects_path(self.path)}")
        if self.ignored_columns:
            out.append(
                f"  ignored columns (not in the {self.source} schema): "
                + ", ".join(self.ignored_columns)
            )
        for name, columns in self.shared_columns.items():
            out.append(
                f"  columns {' and '.join(columns)} both fill {name}: "
                "in each row the later non-blank one is used"
            )
        if self.error:
            out.append(f"  PUBLISHING FAILED: {self.error}")
        if self.exit_code == EXIT_PUBLISH_FAILED:
            out.append(
                f"  {self.acknowledged} of {self.read} rows are safely in Kafka; sending "
                "the same file again is safe (event ids repeat, duplicates fold away)"
            )
        return out


def rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.jsonl")


def auto_workers(size: int) -> int:
    """Encoder processes for a file of ``size`` bytes: none for small files (starting a
    process costs more than it saves), else one per core but the one that sends."""
    return 0 if size < _PARALLEL_FROM_BYTES else max(1, (os.cpu_count() or 2) - 1)


def produce_file(
    source: str,
    path: Path,
    *,
    bootstrap_servers: str | None,
    topic_prefix: str = "zjcredit",
    dry_run: bool = False,
    metrics: ProducerMetrics | None = None,
    show_progress: bool | None = None,
    now: dt.datetime | None = None,
    workers: int | None = None,
    producer_config: Mapping[str, Any] | None = None,
    department: str | None = None,
    encoding: str | None = None,
    notice: Callable[[str], None] | None = None,
    name: Path | None = None,
    sheet: str | None = None,
) -> ProduceSummary:
    """Validate every row of ``path`` and (unless ``dry_run``) publish the good ones.

    ``show_progress``: None = a progress bar when stderr is a terminal; ``now`` fixes
    ``reported_at`` for rows without one (default: the time the row is read);
    ``workers``: encoder processes (default :func:`auto_workers`); ``producer_config``:
    overrides for kafka-python (tests shorten its timeouts); ``department``: the one
    department the rows are sent for (the HTTP ingest: rows of another are rejected);
    ``encoding``: the file's text encoding (a Python codec name; default: detected, see
    producers/decoding.py; LookupError if unknown); ``notice``: told which encoding was
    chosen, when it is not plain UTF-8 (the CLI prints it before the progress bar);
    ``name``: the file as the summary names it, its rejects written beside that name
    (default ``path``; the CLI's ``stdin`` for a spooled standard input); ``sheet``: the
    sheet of an ``.xlsx`` workbook (default: the first). UnreadableFileError when the file
    cannot be read as its format at all (not a workbook, no such sheet, an old ``.xls``).
    """
    shown = name or path
    # What is read: a UTF-8 view of a text file, or a workbook's sheet as JSON Lines.
    header: list[str] | None = None  # a sheet's, else read from the file
    sheet_name: str | None = None
    choice = EncodingChoice("utf-8", "default")
    with contextlib.ExitStack() as opened:
        if _format_of(path, sheet) == "xlsx":
            workbook = opened.enter_context(sheet_as_jsonl(path, sheet))
            text, header, sheet_name = workbook.path, workbook.header, workbook.name
            message: str | None = f"reading {shown.name}, sheet {sheet_name!r}"
        else:
            view = opened.enter_context(utf8_view(path, encoding))
            text, choice = view.path, view.choice
            message = choice.note(shown) if choice.why != "default" else None
        if notice is not None and message is not None:
            notice(message)
        summary = _produce(source, shown, text, choice, header=header,
                           bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix,
                           dry_run=dry_run, metrics=metrics, show_progress=show_progress,
                           now=now, workers=workers, producer_config=producer_config,
                           department=department)  # fmt: skip
    summary.sheet = sheet_name
    return summary


def _format_of(path: Path, sheet: str | None) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    if path.suffix.lower() == ".xls" or head.startswith(_OLE_MAGIC):
        raise UnreadableFileError(
            f"{path.name} is an Excel 97-2003 workbook (.xls): save it as .xlsx or CSV"
        )
    fmt = detect_format(path)
    if sheet is not None and fmt != "xlsx":
        raise UnreadableFileError(f"a sheet ({sheet!r}) was named, but {path.name} is not .xlsx")
    return fmt


def _produce(
    source: str,
    path: Path,
    text: Path,
    choice: EncodingChoice,
    *,
    header: list[str] | None,
    bootstrap_servers: str | None,
    topic_prefix: str,
    dry_run: bool,
    metrics: ProducerMetrics | None,
    show_progress: bool | None,
    now: dt.datetime | None,
    workers: int | None,
    producer_config: Mapping[str, Any] | None,
    department: str | None,
) -> ProduceSummary:
    # ``path`` is the file as given (named in the summary, its rejects beside it); ``text``
    # is its UTF-8 view, which is what is read.
    metrics = metrics or ProducerMetrics.default()
    summary = ProduceSummary(source, path, dry_run=dry_run, encoding=choice)
    parser = RowParser(source, ManifestRegistry.load().latest(source), load_catalog())
    columns = header or header_of(text)
    summary.ignored_columns = parser.unknown_columns(columns)
    summary.shared_columns = parser.shared_columns(columns)
    publisher = None
    if not dry_run:
        assert bootstrap_servers is not None
        try:
            publisher = Publisher(
                bootstrap_servers,
                topic_prefix=topic_prefix,
                metrics=metrics,
                producer_config=producer_config,
            )
        except PublishError as error:
            summary.error = str(error)
            return summary
    if workers is None:
        workers = auto_workers(text.stat().st_size)
    with (
        _Rejects(rejects_path(path)) as rejects,
        ChunkEncoder(source, workers, department=department) as encoder,
    ):
        try:
            _stream(encoder, text, choice.label, publisher=publisher, summary=summary,
                    rejects=rejects, metrics=metrics, now=now,
                    show_progress=show_progress)  # fmt: skip
        except PublishError as error:
            summary.error = str(error)
        finally:
            if publisher is not None:
                report = publisher.flush()
                publisher.close()
                summary.acknowledged = report.acknowledged
                if report.failed and summary.error is None:
                    summary.error = f"{report.failed} events not acknowledged: {report.first_error}"
    return summary


def _stream(
    encoder: ChunkEncoder,
    path: Path,
    encoding: str,
    *,
    publisher: Publisher | None,
    summary: ProduceSummary,
    rejects: _Rejects,
    metrics: ProducerMetrics,
    now: dt.datetime | None,
    show_progress: bool | None,
) -> None:
    source = encoder.source
    with (
        ChunkReader(path, encoding=encoding) as reader,
        tqdm(total=reader.size, unit="B", unit_scale=True, desc=source, leave=False,
             disable=None if show_progress is None else not show_progress) as bar,
    ):  # fmt: skip
        for chunk in encoder.map(reader, now):
            # Rejects first: if Kafka dies while the chunk is sent, every row counted as
            # read is in Kafka's hands or in the rejects file (read = sent + rejected).
            for rejected in chunk.rejected:
                rejects.write(rejected)
                summary.rejected += 1
                summary.rejects_by_reason[rejected.reason] += 1
                metrics.on_rejected(source, rejected.reason)
            handed = len(chunk.keys)
            try:
                if publisher is not None and chunk.keys:
                    publisher.send_encoded(source, chunk.keys, chunk.values, chunk.hashes)
            except PublishError:
                assert publisher is not None
                handed = publisher.report().sent - summary.sent  # the rest was never sent
                raise
            finally:
                summary.read += handed + len(chunk.rejected)
                summary.sent += handed
                metrics.on_read(source, handed + len(chunk.rejected))
            bar.update(reader.position() - bar.n)
            bar.set_postfix(rows=summary.read, rejected=summary.rejected)


class _Rejects:
    """``FILE.rejects.jsonl``: created on the first rejected row, replaced on every run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: TextIO | None = None
        path.unlink(missing_ok=True)

    def write(self, rejected: Rejected) -> None:
        # A lone surrogate (a broken export) is written as \udcxx, not a crash.
        self._out = self._out or self.path.open("w", encoding="utf-8", errors="backslashreplace")
        record = {
            "line": rejected.line,
            "reason": rejected.reason,
            "field": rejected.field,
            "message": rejected.message,
            "row": rejected.row,
        }
        self._out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def __enter__(self) -> _Rejects:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._out is not None:
            self._out.close()
