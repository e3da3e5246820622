"""``zjcredit bench encode``: the Avro body writer's µs per record, beside fastavro's.

No broker, no database: it generates a province, parses every event and renders every
firm's final profile (the pure fold), then times ``Codec.encode_body`` (the compiled
writer, what the worker and the producers call) and ``fastavro.schemaless_writer`` on
the very same records, best of ``rounds`` runs each. Both are one core's Python, so the
ratio moves less with the machine's load than either figure does.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from benchmarks.harness import BenchError
from producers.generator import HORIZON, generate
from producers.readers import read_rows
from producers.rows import RowParser
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry, RegisteredSchema
from schemas.sectors import load_catalog

__all__ = ["EncodeTiming", "run_encode_bench"]


@dataclass(frozen=True)
class EncodeTiming:
    """One subject's records and the best µs per record of each writer."""

    subject: str
    records: int
    body_bytes: float  # mean Avro body size
    compiled_us: float
    fastavro_us: float

    def line(self) -> str:
        """The bench's output line for this subject."""
        return (
            f"{self.subject:<11} {self.records:>7,} records {self.body_bytes:>5.0f} B  "
            f"compiled {self.compiled_us:6.2f} µs  fastavro {self.fastavro_us:6.2f} µs  "
            f"({self.fastavro_us / self.compiled_us:.1f}x)"
        )


def run_encode_bench(
    enterprises: int, rounds: int = 5, say: Callable[[str], object] = print
) -> list[EncodeTiming]:
    """Time both writers on every source's events and on the rendered profiles."""
    from streams.core import SourceEvent, fold, render  # noqa: PLC0415 - only this one folds

    registry, catalog = ManifestRegistry.load(), load_catalog()
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-encode-") as work:
        say(f"generating {enterprises:,} enterprises ...")
        report = generate(enterprises, seed=7, out_dir=Path(work))
        events: dict[str, list[dict[str, Any]]] = {}
        for source in SOURCES:
            parser = RowParser(source, registry.latest(source), catalog)
            rows = read_rows(report.paths[source])
            events[source] = [parser.parse(r.fields, now) for r in rows if r.fields is not None]
    say("folding and rendering ...")
    stream = [SourceEvent(s, e) for s in SOURCES for e in events[s]]
    profiles = [render(p, HORIZON) for p in fold(stream, HORIZON)[0].values()]
    codec = Codec(registry)
    timings = []
    for subject, records in [*events.items(), ("profiles", profiles)]:
        if not records:  # a tiny province may have no firm on a blacklist
            say(f"{subject:<11} no records")
            continue
        schema = registry.latest(subject)
        timing = _time_subject(codec, schema, records, rounds)
        say(timing.line())
        timings.append(timing)
    return timings


def _time_subject(
    codec: Codec, schema: RegisteredSchema, records: Sequence[Any], rounds: int
) -> EncodeTiming:
    parsed = schema.parsed

    def compiled() -> int:
        size = 0
        for record in records:
            size += len(codec.encode_body(schema, record))
        return size

    def fastavro_body(record: Any) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        return out.getvalue()

    def with_fastavro() -> int:
        size = 0
        for record in records:
            out = io.BytesIO()
            fastavro.schemaless_writer(out, parsed, record)
            size += len(out.getvalue())
        return size

    # Untimed: compiles the writer, and a bench of wrong bytes would be no bench.
    size = 0
    for record in records:
        body = codec.encode_body(schema, record)
        if body != fastavro_body(record):
            raise BenchError(f"{schema.subject}: the writers disagree on {record!r}")
        size += len(body)
    per = 1e6 / len(records)
    return EncodeTiming(
        schema.subject,
        len(records),
        size / len(records),
        _best(compiled, rounds) * per,
        _best(with_fastavro, rounds) * per,
    )


def _best(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
