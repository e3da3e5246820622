"""The departmental publisher: validate, encode, send keyed by credit code, count acks.

Built on kafka-python with ``acks=all`` and idempotence (no duplicates from retries),
lz4 compression and batching. ``send()`` validates the event against the contract and
encodes it in the Confluent wire format; nothing invalid reaches Kafka. ``flush()``
waits and returns what Kafka acknowledged, so a caller always knows exactly how much of
its input is safely stored.

Example::

    with Publisher("127.0.0.1:9092") as publisher:
        publisher.send("tax", event)
        report = publisher.flush()
        print(report.acknowledged, report.failed)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from producers.metrics import ProducerMetrics
from schemas.codec import Codec
from schemas.events import validate_event
from schemas.registry import ManifestRegistry
from schemas.sectors import SectorCatalog, load_catalog
from zjcredit.errors import ZjcreditError

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
}


class PublishError(ZjcreditError):
    """Kafka could not be reached or did not acknowledge; the message says which."""


@dataclass(frozen=True)
class DeliveryReport:
    """What happened to everything sent so far."""

    sent: int
    acknowledged: int
    failed: int
    first_error: str | None


class Publisher:
    """Validate, encode and send events of the four sources.

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
        self.metrics = metrics or ProducerMetrics()
        self._sent = self._acked = self._failed = 0
        self._first_error: str | None = None
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap_servers,
                **{**_PRODUCER_DEFAULTS, **(producer_config or {})},
            )
        except KafkaError as error:
            raise PublishError(f"cannot reach Kafka at {bootstrap_servers}: {error}") from error

    def send(self, source: str, event: Mapping[str, Any]) -> None:
        """Validate and encode ``event``, then hand it to Kafka (asynchronously).

        Raises InvalidEvent/EncodeError for a bad event (nothing is sent), PublishError
        when Kafka will not take it (buffer full, no metadata within ``max_block_ms``).
        """
        validate_event(source, event, self.catalog)
        self.send_encoded(source, str(event["uscc"]).encode(), self.codec.encode(source, event))

    def send_encoded(self, source: str, key: bytes, value: bytes) -> None:
        """Send an already validated and encoded event (also the benchmark's raw path)."""
        from kafka.errors import KafkaError  # noqa: PLC0415

        started = time.perf_counter()
        try:
            future = self._producer.send(f"{self.topic_prefix}.{source}", key=key, value=value)
        except KafkaError as error:
            raise PublishError(f"Kafka refused the event: {error}") from error
        self._sent += 1
        self.metrics.on_sent(source)
        future.add_callback(self._on_ack, source, started)
        future.add_errback(self._on_error, source)

    def _on_ack(self, source: str, started: float, _metadata: object) -> None:
        self._acked += 1
        self.metrics.on_acknowledged(source, time.perf_counter() - started)

    def _on_error(self, source: str, error: Exception) -> None:
        self._failed += 1
        self._first_error = self._first_error or f"{type(error).__name__}: {error}"
        self.metrics.on_failed(source)

    def report(self) -> DeliveryReport:
        return DeliveryReport(self._sent, self._acked, self._failed, self._first_error)

    def flush(self, timeout: float | None = 60.0) -> DeliveryReport:
        """Wait for every sent event to be acknowledged or failed; return the tally."""
        from kafka.errors import KafkaError  # noqa: PLC0415

        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as error:
            self._first_error = self._first_error or f"flush: {error}"
        return self.report()

    def close(self, timeout: float = 10.0) -> None:
        self._producer.close(timeout=timeout)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
