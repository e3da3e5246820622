"""``zjcredit produce SOURCE FILE``: stream a department's export into Kafka.

Reads CSV or JSON Lines in constant memory, rejects bad rows (each written to
``FILE.rejects.jsonl`` with its line number, reason and original text) and keeps going,
sends the good ones, and ends with a summary of what was read, sent, acknowledged and
rejected. Exit status: 0 all rows went, 1 some rows were rejected, 2 publishing failed
(the summary then says exactly how many rows Kafka acknowledged; event ids are
deterministic, so sending the same file again is safe).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from producers.metrics import ProducerMetrics
from producers.publisher import Publisher, PublishError
from producers.readers import RawRow, RowReader
from producers.rows import RowParser, RowRejected
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

__all__ = ["EXIT_OK", "EXIT_PUBLISH_FAILED", "EXIT_REJECTS", "ProduceSummary", "produce_file"]

EXIT_OK, EXIT_REJECTS, EXIT_PUBLISH_FAILED = 0, 1, 2
_PROGRESS_EVERY = 2000


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
    error: str | None = None
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        if self.error is not None or (not self.dry_run and self.acknowledged < self.sent):
            return EXIT_PUBLISH_FAILED
        return EXIT_REJECTS if self.rejected else EXIT_OK

    def lines(self) -> list[str]:
        verb = "valid (dry run, nothing sent)" if self.dry_run else "sent"
        out = [
            f"{self.path}: {self.source}",
            f"  read          {self.read}",
            f"  {verb:<13} {self.sent}",
        ]
        if not self.dry_run:
            out.append(f"  acknowledged  {self.acknowledged}")
        out.append(f"  rejected      {self.rejected}")
        out += [f"    {reason:<22} {n}" for reason, n in self.rejects_by_reason.most_common()]
        if self.rejected:
            out.append(f"  rejected rows: {rejects_path(self.path)}")
        if self.ignored_columns:
            out.append(
                f"  ignored columns (not in the {self.source} schema): "
                + ", ".join(self.ignored_columns)
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
) -> ProduceSummary:
    """Validate every row of ``path`` and (unless ``dry_run``) publish the good ones.

    ``show_progress``: None = a progress bar when stderr is a terminal; ``now`` fixes
    ``reported_at`` for rows without one (default: the time each row is read).
    """
    metrics = metrics or ProducerMetrics()
    parser = RowParser(source, ManifestRegistry.load().latest(source), load_catalog())
    summary = ProduceSummary(source, path, dry_run=dry_run)
    publisher = None
    if not dry_run:
        assert bootstrap_servers is not None
        try:
            publisher = Publisher(bootstrap_servers, topic_prefix=topic_prefix, metrics=metrics)
        except PublishError as error:
            summary.error = str(error)
            return summary
    with _Rejects(rejects_path(path)) as rejects:
        try:
            _stream(
                parser,
                path,
                publisher=publisher,
                summary=summary,
                rejects=rejects,
                metrics=metrics,
                now=now,
                show_progress=show_progress,
            )
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
    parser: RowParser,
    path: Path,
    *,
    publisher: Publisher | None,
    summary: ProduceSummary,
    rejects: _Rejects,
    metrics: ProducerMetrics,
    now: dt.datetime | None,
    show_progress: bool | None,
) -> None:
    source = parser.source
    with (
        RowReader(path) as reader,
        tqdm(total=reader.size, unit="B", unit_scale=True, desc=source, leave=False,
             disable=None if show_progress is None else not show_progress) as bar,
    ):  # fmt: skip
        for row in reader:
            summary.read += 1
            metrics.on_read(source)
            if summary.read == 1 and row.fields is not None:
                summary.ignored_columns = parser.unknown_columns(list(row.fields))
            try:
                event = _parse(parser, row, now or dt.datetime.now(dt.UTC))
            except RowRejected as rejection:
                rejects.write(row, rejection)
                summary.rejected += 1
                summary.rejects_by_reason[rejection.reason] += 1
                metrics.on_rejected(source, rejection.reason)
            else:
                if publisher is not None:
                    publisher.send_encoded(
                        source, event["uscc"].encode(), publisher.codec.encode(source, event)
                    )
                summary.sent += 1
            if summary.read % _PROGRESS_EVERY == 0:
                bar.update(reader.position() - bar.n)
                bar.set_postfix(rows=summary.read, rejected=summary.rejected)


class _Rejects:
    """``FILE.rejects.jsonl``: created on the first rejected row, replaced on every run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: TextIO | None = None
        path.unlink(missing_ok=True)

    def write(self, row: RawRow, rejection: RowRejected) -> None:
        self._out = self._out or self.path.open("w", encoding="utf-8")
        record = {
            "line": row.line,
            "reason": rejection.reason,
            "field": rejection.field,
            "message": rejection.message,
            "row": row.fields if row.fields is not None else row.text,
        }
        self._out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def __enter__(self) -> _Rejects:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._out is not None:
            self._out.close()


def _parse(parser: RowParser, row: RawRow, now: dt.datetime) -> dict[str, Any]:
    if row.fields is None:
        raise RowRejected("(row)", row.problem_reason or "unreadable", row.problem or "unreadable")
    return parser.parse(row.fields, now)
