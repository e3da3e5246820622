"""The synthetic province as the benchmarks feed it: encoded rows, fresh events, final
profiles (the pure fold's), all from ``producers.generator``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from producers.encoding import encode_rows
from producers.generator import HORIZON, generate
from producers.readers import read_rows
from producers.rows import RowParser
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

__all__ = ["encode_province", "fresh_events", "province_profiles"]


def encode_province(files: dict[str, Path]) -> dict[str, list[tuple[bytes, bytes]]]:
    """``(key, Confluent frame)`` of every good row of each source's file, in file order."""
    registry = ManifestRegistry.load()
    codec, catalog = Codec(registry), load_catalog()
    now = dt.datetime.now(dt.UTC)
    encoded = {}
    for source, path in files.items():
        parser = RowParser(source, registry.latest(source), catalog)
        chunk = encode_rows(parser, codec, read_rows(path), now)
        encoded[source] = list(zip(chunk.keys, chunk.values, strict=True))
    return encoded


def fresh_events(work: Path, firms: int, count: int) -> list[tuple[str, dict[str, Any]]]:
    """Events of firms the worker has not seen (another seed), interleaved by source."""
    report = generate(firms, seed=8, out_dir=work / "fresh")
    registry, catalog = ManifestRegistry.load(), load_catalog()
    now = dt.datetime.now(dt.UTC)
    per_source = []
    for source in SOURCES:
        parser = RowParser(source, registry.latest(source), catalog)
        events = []
        for row in read_rows(report.paths[source]):
            if row.fields is not None:
                events.append((source, parser.parse(row.fields, now)))
        per_source.append(events)
    mixed = [e for group in zip(*per_source, strict=False) for e in group]
    mixed += [e for events in per_source for e in events[len(min(per_source, key=len)) :]]
    return mixed[:count]


def province_profiles(work: Path, enterprises: int) -> list[tuple[bytes, bytes]]:
    """``(key, frame)`` of the final profile of every firm of a generated province."""
    from streams.core import SourceEvent, fold, render  # noqa: PLC0415 - only this one folds

    report = generate(enterprises, seed=7, out_dir=work / "province")
    registry, catalog = ManifestRegistry.load(), load_catalog()
    now = dt.datetime.now(dt.UTC)
    events = []
    for source in SOURCES:
        parser = RowParser(source, registry.latest(source), catalog)
        for row in read_rows(report.paths[source]):
            if row.fields is not None:
                events.append(SourceEvent(source, parser.parse(row.fields, now)))
    profiles, _ = fold(events, HORIZON)
    codec = Codec(registry)
    return [
        (uscc.encode(), codec.encode("profiles", render(p, HORIZON)))
        for uscc, p in profiles.items()
    ]
