"""Raw records of one partition -> a :class:`~sink.writer.Batch` of rows. Pure, no I/O.

Decoding the Avro and building rows is most of the sink's own CPU, so the sink runs this
in worker processes (a module-level function of plain arguments, so it pickles), while
the main process writes the previous batch to PostgreSQL.

Every record meets one decision here, on its own: its rows go into the batch; or, on a
source topic, it is skipped (a bad input event: the worker dead-lettered it already);
or it becomes a dead letter of the batch (:mod:`sink.deadletters`): a tombstone, a
value that does not decode, a frame of another subject than the topic's, or anything
raised while building its rows. No record can fail the batch.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from readmodel import rows as r
from schemas.codec import Codec
from schemas.errors import ContractError, CorruptBody
from schemas.events import SOURCES, validate_event
from schemas.registry import ManifestRegistry
from schemas.sectors import SectorCatalog, load_catalog
from sink.bulk import copy_profile
from sink.deadletters import BAD_ROW, TOMBSTONE, WRONG_SUBJECT, letter_row
from sink.writer import Batch

__all__ = ["Converted", "RawRecord", "convert"]

RawRecord = tuple[int, bytes | None, bytes | None, int]
"""``(offset, key, value, timestamp_ms)`` of a consumed record."""
Converted = tuple[Batch, int]
"""The batch (its rows and its dead letters), and how many input events were skipped
(the worker dead-lettered them already)."""


class _Unusable(Exception):  # noqa: N818 - a verdict on a record, caught in this module
    """A record that becomes a dead letter: ``reason`` and a message for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@functools.cache
def _tools() -> tuple[Codec, SectorCatalog]:
    return Codec(ManifestRegistry.load()), load_catalog()


@functools.cache
def _unwritten(writer_id: int) -> frozenset[str]:
    """The profile fields the writer's schema did not have: Avro resolution filled them
    with their defaults, which are not what the newer worker would render (a v1 profile
    with trademarks has an ``ip_pledge``), so they are left out and the read model's
    ``profile_v2`` (readmodel/migrations/0004_profile_v2.sql) derives them on write."""
    registry = _tools()[0].registry
    names = {f["name"] for f in registry.latest("profiles").schema["fields"]}
    return frozenset(names - {f["name"] for f in registry.by_id(writer_id).schema["fields"]})


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


def _add_profile(batch: Batch, value: dict[str, Any], writer_id: int, *, bulk: bool) -> None:
    unwritten = _unwritten(writer_id)
    if unwritten:
        value = {k: v for k, v in value.items() if k not in unwritten}
    rows = r.profile_rows(value)
    rows.upgrade = bool(unwritten)
    if bulk:
        batch.copies.append(copy_profile(rows))
    else:
        batch.profiles.append(rows)


def _add(batch: Batch, role: str, record: RawRecord, *, bulk: bool) -> bool:
    """Add one record's rows to ``batch``; False for a source event to skip.

    Raises _Unusable for a record to dead-letter. ``bulk``: a profile's rows as COPY text
    (:mod:`sink.bulk`), for ``sink rebuild``.
    """
    codec, catalog = _tools()
    offset, key, data, timestamp_ms = record
    if data is None:
        if role in SOURCES:
            return False
        raise _Unusable(TOMBSTONE, f"a tombstone (no value) on the {role} topic")
    try:
        value, writer = codec.decode(data)
    except Exception as error:  # whatever the bytes do, it is the record's fault
        if role in SOURCES:
            return False
        reason = error.reason if isinstance(error, ContractError) else CorruptBody.reason
        raise _Unusable(reason, str(error)) from error
    if role in SOURCES:
        if not _accepted(role, writer.subject, value, key, catalog=catalog,
                         timestamp_ms=timestamp_ms):  # fmt: skip
            return False
    elif writer.subject != role:
        raise _Unusable(
            WRONG_SUBJECT,
            f"schema id {writer.id} is of subject {writer.subject!r}; "
            f"the {role} topic carries {role!r}",
        )
    try:  # every row built before any is added: a failure leaves nothing behind
        if role == "profiles":
            _add_profile(batch, value, writer.id, bulk=bulk)
        elif role == "penalties":
            row, measures = r.notice_rows(value)
            batch.notices.append(row)
            batch.notice_measures.extend(measures)
        else:
            batch.events.append(r.event_row(role, value, batch.topic, batch.partition, offset))
    except Exception as error:
        message = f"building its rows raised {type(error).__name__}: {error}"
        raise _Unusable(BAD_ROW, message) from error
    return True


def convert(role: str, topic: str, partition: int, records: Sequence[RawRecord],
            bulk: bool = False) -> Converted:  # fmt: skip
    """Decode ``records`` (one partition of the ``role`` topic) into rows and letters.

    ``bulk`` (``sink rebuild``): profiles as COPY text lines, in ``Batch.copies``.
    """
    batch = Batch(topic, partition, records[-1][0] + 1)
    skipped = 0
    now = dt.datetime.now(dt.UTC)
    for record in records:
        offset, key, data, _ = record
        try:
            if not _add(batch, role, record, bulk=bulk):
                skipped += 1
        except _Unusable as error:
            letter = letter_row(topic, partition, offset, key=key, value=data,
                                reason=error.reason, message=str(error), failed_at=now)  # fmt: skip
            batch.letters.append(letter)
    return batch, skipped
