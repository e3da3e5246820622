"""Producer metrics, declared once, behind hooks.

The producer code calls ``on_read``, ``on_rejected``, ``on_sent``, ``on_acknowledged``;
only this module touches prometheus_client. Tests pass a fresh ``CollectorRegistry``.
"""

from __future__ import annotations

import functools

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = ["ProducerMetrics"]


class ProducerMetrics:
    """Counters and the send-latency histogram of one producing process.

    Metrics can be registered once per registry: use :meth:`default` for the process
    registry (what ``--metrics-port`` serves), a fresh instance per test registry.
    """

    @classmethod
    def default(cls) -> ProducerMetrics:
        return _default()

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._read = Counter(
            "zjcredit_producer_rows_read_total",
            "Rows read from files",
            ["source"],
            registry=registry,
        )
        self._rejected = Counter(
            "zjcredit_producer_rows_rejected_total",
            "Rows rejected before sending",
            ["source", "reason"],
            registry=registry,
        )
        self._sent = Counter(
            "zjcredit_producer_events_sent_total",
            "Events handed to Kafka",
            ["source"],
            registry=registry,
        )
        self._acked = Counter(
            "zjcredit_producer_events_acknowledged_total",
            "Events acknowledged by Kafka (acks=all)",
            ["source"],
            registry=registry,
        )
        self._failed = Counter(
            "zjcredit_producer_events_failed_total",
            "Events Kafka did not acknowledge",
            ["source"],
            registry=registry,
        )
        self._latency = Histogram(
            "zjcredit_producer_send_latency_seconds",
            "From handing a batch of events to Kafka to the acknowledgement of its last",
            ["source"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    # Counts come in per chunk, not per row: a label lookup per row costs more than
    # kafka-python's own work for that row.
    def on_read(self, source: str, rows: int = 1) -> None:
        self._read.labels(source).inc(rows)

    def on_rejected(self, source: str, reason: str, rows: int = 1) -> None:
        self._rejected.labels(source, reason).inc(rows)

    def on_sent(self, source: str, events: int = 1) -> None:
        self._sent.labels(source).inc(events)

    def on_acknowledged(self, source: str, events: int, seconds: float) -> None:
        """``seconds``: from handing a batch of ``events`` to Kafka to its last answer."""
        self._acked.labels(source).inc(events)
        self._latency.labels(source).observe(seconds)

    def on_failed(self, source: str, events: int = 1) -> None:
        self._failed.labels(source).inc(events)


@functools.cache
def _default() -> ProducerMetrics:
    return ProducerMetrics(REGISTRY)
