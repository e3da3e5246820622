"""Bring a partition store level with its state changelog, before the partition's first batch.

The changelog is the source of truth; the store may lag it, never lead it (Kafka Streams'
rule under exactly-once). So, for an assigned partition:

- the store's meta is *consistent* with the changelog when it names the same topic (and
  topic id) and partition, and its offset lies between the changelog's first offset and
  its last stable offset: then only the changelog after that offset is read;
- otherwise (no meta, another format, a recreated or truncated changelog, an offset past
  the committed end) the store is wiped and rebuilt from the whole changelog, streaming,
  with a progress line every few seconds.

Either way, the store ends knowing the input offsets its states reflect (the changelog's
last *inputs* record, streams/changelog.py). Pure copying: records go to the store as
bytes, nothing is unpickled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.changelog import INPUTS_KEY, decode_inputs
from streams.errors import StoreError
from streams.reader import Reader, TopicPartition
from streams.store import PartitionStore, StoreMeta

__all__ = ["Restored", "restore"]

log = logging.getLogger("zjcredit.worker")

_PROGRESS_EVERY_S = 5.0
_CHUNK = 1000  # changelog records per store write: a killed rebuild resumes from the last


@dataclass(frozen=True)
class Restored:
    """What a restore did: for logs, metrics and the bench."""

    store: PartitionStore
    meta: StoreMeta
    records: int  # changelog records copied
    seconds: float
    rebuilt: str | None  # why the store was wiped (or started empty), None if caught up


def _inconsistency(
    meta: StoreMeta | None, changelog: str, topic_id: str | None, *, partition: int,
    begin: int, end: int,
) -> str | None:  # fmt: skip
    if meta is None:
        return "no state store (or one of another format) on this disk"
    if meta.changelog != changelog or meta.partition != partition:
        return f"the store copies {meta.changelog}[{meta.partition}]"
    if topic_id and meta.topic_id and topic_id != meta.topic_id:
        return "the changelog topic was recreated"
    if meta.changelog_next > end:
        return f"the store is at offset {meta.changelog_next}, past the changelog's end {end}"
    if meta.changelog_next < begin:
        return f"the changelog now starts at {begin}, after the store's {meta.changelog_next}"
    return None


async def restore(
    store: PartitionStore,
    reader: Reader,
    changelog: str,
    topic_id: str | None,
    *,
    partition: int,
    on_progress: Callable[[int], None] = lambda n: None,
) -> Restored:
    """Make ``store`` a copy of ``changelog[partition]`` up to its last stable offset.

    ``on_progress(n)`` is told of each ``n`` records copied while rebuilding.
    """
    started = time.monotonic()
    tp = TopicPartition(changelog, partition)
    begin, end = await reader.bounds(tp)
    try:
        meta = store.meta
        why = _inconsistency(meta, changelog, topic_id, partition=partition, begin=begin, end=end)
    except StoreError as error:  # unreadable: corrupt
        meta, why = None, f"its meta cannot be read ({error})"
        log.warning("partition=%r wiping the state store: %s", f"{changelog}[{partition}]", why)
    if why is not None:
        if meta is not None:
            log.warning("partition=%r wiping the state store: %s", f"{changelog}[{partition}]", why)
        store = store.wipe()  # also whatever a store of another format left
        meta = StoreMeta(changelog, topic_id, partition, begin, {})
        start = begin
    else:
        assert meta is not None
        start = meta.changelog_next
    inputs = dict(meta.inputs)
    copied, shown = 0, time.monotonic()
    async for fetched in reader.read(tp, start, end, transactional=True):
        for at in range(0, len(fetched), _CHUNK):
            records = fetched[at : at + _CHUNK]
            states = []
            for r in records:
                if r.key == INPUTS_KEY:
                    inputs = decode_inputs(r.value)
                else:
                    states.append((r.key, r.value))
            meta = StoreMeta(changelog, topic_id, partition, records[-1].offset + 1, inputs)
            store.copy_changelog(states, meta)
            copied += len(records)
            if why is not None:
                on_progress(len(records))
        if why is not None and time.monotonic() - shown > _PROGRESS_EVERY_S:
            shown = time.monotonic()
            log.info(
                "partition=%r rebuilding the state store: %d of %d changelog records "
                "(%.0f/s)", f"{changelog}[{partition}]", copied, end - begin,
                copied / (shown - started),
            )  # fmt: skip
    # The end may be a transaction marker past the last record: start there next time.
    meta = StoreMeta(changelog, topic_id, partition, max(end, meta.changelog_next), inputs)
    store.copy_changelog([], meta)
    seconds = time.monotonic() - started
    if why is not None or copied:
        done = "caught up" if why is None else "rebuilt" if copied else "new (empty changelog)"
        log.info(
            "partition=%r state store %s: %d changelog records in %.1f s",
            f"{changelog}[{partition}]", done, copied, seconds,
        )  # fmt: skip
    return Restored(store, meta, copied, seconds, why)
