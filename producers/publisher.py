"""The departmental publisher: validate, encode, send keyed by credit code, count acks.

Built on kafka-python with ``acks=all`` and idempotence (no duplicates from retries),
lz4 compression and batching. ``send()`` validates the event against the contract and
encodes it in the Confluent wire format; nothing invalid reaches Kafka. ``flush()``
waits and returns what Kafka acknowledged, so a caller always knows exactly how much of
its input is safely stored.

Example::

    with Publisher("127.0.0.1:9092") as publisher:
        publisher.send("tax", event)                   # one event from a department's system
        report = publisher.flush()
        print(report.acknowledged, report.failed)
"""

from __future__ import annotations

import collections
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from producers.errors import PublishError
from producers.metrics import ProducerMetrics
from schemas.codec import Codec
from schemas.events import validate_event
from schemas.registry import ManifestRegistry
from schemas.sectors import SectorCatalog, load_catalog

__all__ = ["DeliveryReport", "PublishError", "Publisher"]

# Batching for throughput with a bound on how long an event may wait to be sent.
_PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "compression_type": "lz4",
    "linger_ms": 20,
    "batch_size": 256 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "request_timeout_ms": 15_000,
    "max_block_ms": 20_000,
    # Retries are unbounded in count but bounded in time: a broker gone for 30 s fails
    # the send instead of holding the clerk's terminal for the default 2 minutes.
    "delivery_timeout_ms": 30_000,
    # A broker that is down is reported after 10 s, not kafka-python's 30.
    "bootstrap_timeout_ms": 10_000,
}


@dataclass(frozen=True)
class _Batch:
    source: str
    started: float
    futures: list[Any]


def _force_close(producer: Any) -> None:
    """Stop a producer whose unsent batches cannot be delivered.

    kafka-python 3.0's ``close()`` flushes first and raises when the flush times out,
    even with ``timeout=0``, so it never reaches its own force-close; and the half-closed
    producer tries again (and raises again) when garbage-collected. Do what ``close``
    would have done after the flush.
    """
    sender = getattr(producer, "_sender", None)
    if sender is not None and sender.is_alive():
        sender.force_close()
        sender.join(5)
    producer._closed = True


@dataclass(frozen=True)
class DeliveryReport:
    """What happened to everything sent so far."""

    sent: int
    acknowledged: int
    failed: int
    first_error: str | None


class Publisher:
    """Validate, encode and send events of the five sources.

    Args:
        bootstrap_servers: Kafka ``host:port[,...]``.
        topic_prefix: topics are ``<prefix>.<source>`` [ZJCREDIT_TOPIC_PREFIX].
        codec, catalog: the contract (defaults: the built-in registry and catalog).
        metrics: hooks for rows sent/acknowledged (default: the process registry).
        producer_config: overrides for kafka-python's KafkaProducer.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "zjcredit",
        codec: Codec | None = None,
        catalog: SectorCatalog | None = None,
        metrics: ProducerMetrics | None = None,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        from kafka import KafkaProducer  # noqa: PLC0415 - heavy; not needed to parse rows
        from kafka.errors import KafkaError  # noqa: PLC0415

        self.topic_prefix = topic_prefix
        self.codec = codec or Codec(ManifestRegistry.load())
        self.catalog = catalog or load_catalog()
        self.metrics = metrics or ProducerMetrics.default()
        self._sent = self._acked = self._failed = 0
        self._first_error: str | None = None
        self._pending: collections.deque[_Batch] = collections.deque()
        config = {**_PRODUCER_DEFAULTS, **(producer_config or {})}
        # Past the delivery timeout every event has an answer or never will.
        self._flush_timeout = config["delivery_timeout_ms"] / 1000 + 5
        try:
            self._producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **config)
        except KafkaError as error:
            raise PublishError(f"cannot reach Kafka at {bootstrap_servers}: {error}") from error

    def send(self, source: str, event: Mapping[str, Any]) -> None:
        """Validate and encode ``event``, then hand it to Kafka (asynchronously).

        Raises InvalidEvent/EncodeError for a bad event (nothing is sent), PublishError
        when Kafka will not take it (buffer full, no metadata within ``max_block_ms``).
        """
        validate_event(source, event, self.catalog, read_at=dt.datetime.now(dt.UTC))
        value = self.codec.encode(source, event)
        self.send_encoded(source, [str(event["uscc"]).encode()], [value])

    def send_encoded(
        self,
        source: str,
        keys: Sequence[bytes],
        values: Sequence[bytes],
        hashes: Sequence[int] | None = None,
    ) -> None:
        """Send already validated and encoded events, in order (keys[i] with values[i]).

        ``hashes``: each key's :func:`producers.partitioning.key_hash`, computed by the
        caller (the encoder workers); the partition is then the default partitioner's
        without its cost here. Without them kafka-python's partitioner picks it.
        """
        from kafka.errors import KafkaError  # noqa: PLC0415

        topic = f"{self.topic_prefix}.{source}"
        send = self._producer.send
        started = time.perf_counter()
        futures = []
        try:
            if hashes is None:
                for key, value in zip(keys, values, strict=True):
                    futures.append(send(topic, key=key, value=value))
            else:
                # Read per call, not cached: a topic given more partitions is followed
                # as kafka-python's partitioner would follow it.
                partitions = sorted(self._producer.partitions_for(topic))
                count = len(partitions)
                for key, value, hashed in zip(keys, values, hashes, strict=True):
                    futures.append(
                        send(topic, key=key, value=value, partition=partitions[hashed % count])
                    )
        except KafkaError as error:
            raise PublishError(f"Kafka refused an event: {error}") from error
        finally:
            if futures:
                self._sent += len(futures)
                self.metrics.on_sent(source, len(futures))
                self._pending.append(_Batch(source, started, futures))
        self._collect(wait=False)

    def _collect(self, *, wait: bool) -> None:
        # Count acknowledgements batch by batch, oldest first, instead of a callback per
        # event: the callbacks cost as much as a third of the sending itself.
        while self._pending:
            batch = self._pending[0]
            if not wait and not all(f.is_done for f in batch.futures):
                return
            self._pending.popleft()
            acked = sum(1 for f in batch.futures if f.succeeded())
            failed = sum(1 for f in batch.futures if f.failed())
            self._acked += acked
            self._failed += failed
            self.metrics.on_acknowledged(batch.source, acked, time.perf_counter() - batch.started)
            if failed:
                self.metrics.on_failed(batch.source, failed)
                error = next(f.exception for f in batch.futures if f.failed())
                self._first_error = self._first_error or f"{type(error).__name__}: {error}"

    def report(self) -> DeliveryReport:
        return DeliveryReport(self._sent, self._acked, self._failed, self._first_error)

    def flush(self, timeout: float | None = None) -> DeliveryReport:
        """Wait for every sent event to be acknowledged or failed; return the tally.

        Events still unanswered after ``timeout`` (default: the delivery timeout plus
        5 s) count as neither: ``sent`` minus ``acknowledged`` may not be in Kafka.
        """
        from kafka.errors import KafkaError  # noqa: PLC0415

        try:
            self._producer.flush(timeout=timeout or self._flush_timeout)
        except KafkaError as error:
            self._first_error = self._first_error or f"flush: {error}"
        self._collect(wait=True)
        return self.report()

    def close(self, timeout: float = 10.0) -> None:
        """Close, giving unsent events ``timeout`` seconds; then drop them (they are counted
        as not acknowledged already: close never loses track of anything)."""
        from kafka.errors import KafkaError  # noqa: PLC0415

        try:
            self._producer.close(timeout=timeout)
        except KafkaError:
            _force_close(self._producer)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
