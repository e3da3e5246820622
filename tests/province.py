"""A generated province as the worker sees it: rows parsed, Avro-encoded and decoded.

The oracle folds exactly these events, so it sees the same values (decimals at their
schema's scale, UTC timestamps, uuids) as the stream worker does after decoding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from producers.generator import HORIZON, generate
from producers.readers import read_rows
from producers.rows import RowParser, RowRejected
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog
from streams.core import SourceEvent

AS_OF = HORIZON
# After the last report of the generated province (a few days past the horizon): the
# contract refuses a reported_at later than the moment the row is read.
_NOW = dt.datetime(2018, 8, 1, tzinfo=dt.UTC)


def decoded_events(data_dir: Path, source: str) -> Iterator[SourceEvent]:
    """The good rows of one generated file, as decoded events, in file order."""
    registry = ManifestRegistry.load()
    codec = Codec(registry)
    parser = RowParser(source, registry.latest(source), load_catalog())
    for row in read_rows(data_dir / f"{source}.csv"):
        if row.fields is None:
            continue
        try:
            event = parser.parse(row.fields, _NOW)
        except RowRejected:
            continue
        record, _ = codec.decode(codec.encode(source, event))
        yield SourceEvent(source, record)


def province(data_dir: Path, enterprises: int, seed: int = 7) -> dict[str, list[SourceEvent]]:
    """Generate ``enterprises`` firms into ``data_dir``; the decoded events per source."""
    generate(enterprises, seed=seed, out_dir=data_dir, bad_rows=0.0, fmt="csv")
    return {source: list(decoded_events(data_dir, source)) for source in SOURCES}
