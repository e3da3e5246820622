"""Read the worker's output topics back (read_committed) and fold the oracle to compare.

Used by the worker's integration tests and, later, by the sink's end-to-end tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from streams.core import SourceEvent, fold, render

_codec = Codec(ManifestRegistry.load())


def read_topic(bootstrap_servers: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every committed record of ``topic`` up to its current end, in partition order."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=2000,  # tests/workers.py FRESH_METADATA_MS says why
    )
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)  # read_committed: the last stable offset
        records: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} did not reach its end in 60 s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend((r.key, r.value) for r in batch)
        return records
    finally:
        consumer.close()


def decode_all(records: Iterable[tuple[bytes | None, bytes]]) -> list[dict[str, Any]]:
    return [_codec.decode(value)[0] for _, value in records]


def latest_profiles(bootstrap_servers: str, topic: str) -> dict[str, dict[str, Any]]:
    """The last committed profile per credit code (what compaction would keep)."""
    return {p["uscc"]: p for p in decode_all(read_topic(bootstrap_servers, topic))}


def oracle(
    events: Iterable[SourceEvent], as_of: Any
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The pure fold's rendered profiles and notices, as decoded from Avro."""
    profiles, notices = fold(events, as_of)
    rendered = {
        uscc: _codec.decode(_codec.encode("profiles", render(p, as_of)))[0]
        for uscc, p in profiles.items()
    }
    return rendered, [_codec.decode(_codec.encode("penalties", n))[0] for n in notices]


@contextlib.contextmanager
def broker_killed_once_written(bootstrap: str, topic: str, records: int,
                               pid: int) -> Iterator[None]:  # fmt: skip
    """SIGKILL the broker ``pid`` as soon as ``topic`` holds ``records`` records, while
    the ``with`` block runs (not at all if it ends first). A fixed delay instead came
    after the whole file once the producer got faster."""
    stop = threading.Event()

    def watch() -> None:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        try:
            while not stop.is_set() and sum(consumer.end_offsets(parts).values()) < records:
                time.sleep(0.005)
        finally:
            consumer.close()
        if not stop.is_set():
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=watch, name="broker-killer")
    killer.start()
    try:
        yield
    finally:
        stop.set()
        killer.join()
