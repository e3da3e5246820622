"""``zjcredit bench produce``: the producer path beside the raw kafka-python rate.

Both run in the same process, against the same broker, on the same rows:

- **producer path**: the generated province's files through :func:`produce_file`
  (read, parse, validate, encode in worker processes, send, wait for every ack);
- **raw limit**: the same events, encoded beforehand (untimed), sent by a bare
  kafka-python producer with the same settings, then flushed.

Each is run twice, alternating, into fresh topics; the better run of each is reported
(the machines are shared; the better run is the less disturbed one). Then, once each, the
tax file alone through :func:`produce_file` as it is (UTF-8 CSV), transcoded to GB18030
(read through producers/decoding.py's temporary UTF-8 copy) and its first
:data:`XLSX_ROWS` rows as an ``.xlsx`` workbook written by openpyxl (openpyxl reads a few
thousand rows/s: a whole province's sheet would make the bench last many minutes). The
last line is ``produce ratio=<path/raw> goal=0.60``.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from base.settings import Settings
from benchmarks.harness import BenchError
from benchmarks.province import encode_province
from producers.generator import generate
from producers.metrics import ProducerMetrics
from producers.produce import produce_file
from producers.publisher import _PRODUCER_DEFAULTS
from schemas.events import SOURCES
from schemas.topics import create_topics, project_topics

__all__ = ["GOAL", "ProduceBench", "run_produce_bench"]

GOAL = 0.60
XLSX_ROWS = 10_000


@dataclass(frozen=True)
class ProduceBench:
    events: int
    path_rate: float
    raw_rate: float
    formats: dict[str, float]  # "UTF-8 CSV", "GB18030 CSV", "xlsx" -> tax events/s

    @property
    def ratio(self) -> float:
        return self.path_rate / self.raw_rate


def run_produce_bench(
    settings: Settings,
    bootstrap_servers: str,
    enterprises: int,
    say: Callable[[str], None] = print,
) -> ProduceBench:
    """Generate a province of ``enterprises``, then time both paths; print as it goes."""
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder:
        say(f"generating a province of {enterprises} enterprises ...")
        report = generate(enterprises, seed=7, out_dir=Path(folder))
        files = {source: report.paths[source] for source in SOURCES}
        say("encoding the same rows for the raw run (untimed) ...")
        encoded = encode_province(files)
        events = sum(len(pairs) for pairs in encoded.values())
        path_rates, raw_rates = [], []
        for round_ in (1, 2):
            prefix = _fresh_topics(settings, bootstrap_servers)
            rate = _time_path(files, bootstrap_servers, prefix, events)
            path_rates.append(rate)
            say(f"round {round_}: producer path {rate:,.0f} events/s")
            prefix = _fresh_topics(settings, bootstrap_servers)
            rate = _time_raw(encoded, bootstrap_servers, prefix, events)
            raw_rates.append(rate)
            say(f"round {round_}: raw kafka-python {rate:,.0f} events/s")
        formats = {}
        for label, path in _tax_formats(files["tax"], Path(folder)).items():
            prefix = _fresh_topics(settings, bootstrap_servers)
            formats[label] = _time_file(path, bootstrap_servers, prefix)
            say(f"tax as {label:<12} {formats[label]:,.0f} events/s")
    return ProduceBench(events, max(path_rates), max(raw_rates), formats)


def _tax_formats(tax: Path, folder: Path) -> dict[str, Path]:
    """The tax file as it is, in GB18030, and its first rows as a workbook."""
    from openpyxl import Workbook  # noqa: PLC0415 - only this part of the bench writes one

    gb18030 = folder / "tax-gb18030.csv"
    # The generator plants a few rows of bad bytes: they stay bad bytes (surrogateescape).
    with (
        tax.open(encoding="utf-8", errors="surrogateescape", newline="") as text,
        gb18030.open("wb") as out,
    ):
        for line in text:
            out.write(line.encode("gb18030", errors="surrogateescape"))
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("tax")
    with tax.open(encoding="utf-8", errors="replace", newline="") as text:
        # Every cell as text, as a department's export of the same table would hold it.
        for row in itertools.islice(csv.reader(text), XLSX_ROWS + 1):
            sheet.append(row)
    xlsx = folder / "tax.xlsx"
    workbook.save(xlsx)
    return {"UTF-8 CSV": tax, "GB18030 CSV": gb18030, "xlsx": xlsx}


def _time_file(path: Path, bootstrap: str, prefix: str) -> float:
    """Events/s of one tax file, read to acknowledged (reading a workbook included)."""
    metrics = ProducerMetrics(CollectorRegistry())
    started = time.perf_counter()
    summary = produce_file("tax", path, bootstrap_servers=bootstrap, topic_prefix=prefix,
                           metrics=metrics, show_progress=False)  # fmt: skip
    elapsed = time.perf_counter() - started
    if summary.error or summary.acknowledged != summary.sent:
        raise BenchError(f"producer path failed on {path}: {summary.error}")
    return summary.acknowledged / elapsed


def _fresh_topics(settings: Settings, bootstrap_servers: str) -> str:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap_servers, project_topics(replace(settings, topic_prefix=prefix)))
    return prefix


def _time_path(files: dict[str, Path], bootstrap: str, prefix: str, events: int) -> float:
    metrics = ProducerMetrics(CollectorRegistry())
    started = time.perf_counter()
    acknowledged = 0
    for source, path in files.items():
        summary = produce_file(source, path, bootstrap_servers=bootstrap, topic_prefix=prefix,
                               metrics=metrics, show_progress=False)  # fmt: skip
        if summary.error:
            raise BenchError(f"producer path failed on {path}: {summary.error}")
        acknowledged += summary.acknowledged
    elapsed = time.perf_counter() - started
    if acknowledged != events:
        raise BenchError(f"producer path acknowledged {acknowledged} of {events} events")
    return events / elapsed


def _time_raw(
    encoded: dict[str, list[tuple[bytes, bytes]]], bootstrap: str, prefix: str, events: int
) -> float:
    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(bootstrap_servers=bootstrap, **_PRODUCER_DEFAULTS)
    started = time.perf_counter()
    futures: list[Any] = []
    for source, pairs in encoded.items():
        topic = f"{prefix}.{source}"
        futures.extend(producer.send(topic, key=k, value=v) for k, v in pairs)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    acknowledged = sum(1 for f in futures if f.succeeded())
    if acknowledged != events:
        raise BenchError(f"raw producer acknowledged {acknowledged} of {events} events")
    return events / elapsed
