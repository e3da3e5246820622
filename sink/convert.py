"""Raw records of one partition -> a :class:`~sink.writer.Batch` of rows. Pure, no I/O.

Decoding the Avro and building rows is most of the sink's own CPU, so the sink runs this
in worker processes (a module-level function of plain arguments, so it pickles), while
the main process writes the previous batch to PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from schemas.codec import Codec
from schemas.errors import ContractError
from schemas.events import SOURCES, validate_event
from schemas.registry import ManifestRegistry
from schemas.sectors import SectorCatalog, load_catalog
from sink import rows as r
from sink.writer import Batch

__all__ = ["Converted", "RawRecord", "convert"]

RawRecord = tuple[int, bytes | None, bytes | None, int]
"""``(offset, key, value, timestamp_ms)`` of a consumed record."""
Converted = tuple[Batch, list[tuple[int, str, str]], int]
"""The batch, the records to dead-letter as ``(index, reason, message)``, and how many
input events were skipped (the worker dead-lettered them already)."""


@functools.cache
def _tools() -> tuple[Codec, SectorCatalog]:
    return Codec(ManifestRegistry.load()), load_catalog()


def _accepted(role: str, subject: str, event: dict[str, Any], key: bytes | None, *,
              catalog: SectorCatalog, timestamp_ms: int) -> bool:  # fmt: skip
    """The worker's acceptance rules: the history holds exactly the events it folded.

    ``timestamp_ms`` is the broker's append time, the same moment the worker read it at.
    """
    if subject != role:
        return False
    read_at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=timestamp_ms)
    try:
        validate_event(role, event, catalog, read_at=read_at)
    except ContractError:
        return False
    return key == str(event["uscc"]).encode()


def convert(role: str, topic: str, partition: int, records: Sequence[RawRecord]) -> Converted:
    """Decode ``records`` (one partition of the ``role`` topic) into rows."""
    codec, catalog = _tools()
    batch = Batch(topic, partition, records[-1][0] + 1)
    bad: list[tuple[int, str, str]] = []
    skipped = 0
    for index, (offset, key, data, timestamp_ms) in enumerate(records):
        try:
            value, writer = codec.decode(data or b"")
        except ContractError as error:
            if role in SOURCES:
                skipped += 1
            else:
                bad.append((index, error.reason, str(error)))
            continue
        if role == "profiles":
            batch.profiles.append(r.profile_rows(value))
        elif role == "penalties":
            row, measures = r.notice_rows(value)
            batch.notices.append(row)
            batch.notice_measures.extend(measures)
        elif _accepted(role, writer.subject, value, key, catalog=catalog,
                       timestamp_ms=timestamp_ms):  # fmt: skip
            batch.events.append(r.event_row(role, value, topic, partition, offset))
        else:
            skipped += 1
    return batch, bad, skipped
