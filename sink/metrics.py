"""Sink metrics, declared once, behind hooks (tests pass a fresh ``CollectorRegistry``)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["SinkMetrics"]

_FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)


class SinkMetrics:
    @classmethod
    def default(cls) -> SinkMetrics:
        return _default()

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self._rows = Counter(
            "zjcredit_sink_rows_written_total",
            "Rows inserted or updated in the read model",
            ["table"],
            registry=registry,
        )
        self._batch_rows = Histogram(
            "zjcredit_sink_batch_rows",
            "Records per batch written",
            registry=registry,
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
        )
        self._latency = Histogram(
            "zjcredit_sink_batch_latency_seconds",
            "From a fetched batch to its transaction committed",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._freshness = Histogram(
            "zjcredit_sink_freshness_seconds",
            "From an event's reported_at to its row committed (queryable)",
            registry=registry,
            buckets=_FRESHNESS_BUCKETS,
        )
        self._retries = Counter(
            "zjcredit_sink_retries_total",
            "Batches retried because PostgreSQL was unavailable",
            registry=registry,
        )
        self._up = Gauge(
            "zjcredit_sink_database_up",
            "1 if the last PostgreSQL attempt succeeded",
            registry=registry,
        )
        self._dead = Counter(
            "zjcredit_sink_dead_letters_total",
            "Records the sink sent to the dead-letter topic",
            ["reason"],
            registry=registry,
        )
        self._in_doubt = Counter(
            "zjcredit_sink_dead_letters_in_doubt_total",
            "Dead letters a sink stopped (or Kafka failed) while sending: maybe not on the topic",
            ["reason"],
            registry=registry,
        )
        self._lag = Gauge(
            "zjcredit_sink_offset_lag",
            "Records in Kafka after the offset stored in PostgreSQL",
            ["topic", "partition"],
            registry=registry,
        )
        self._listings = Gauge(
            "zjcredit_sink_active_listings",
            "Key-sector listings in force in the read model (counted every 15 s)",
            ["sector"],
            registry=registry,
        )

    def on_batch(
        self, written: Mapping[str, int], records: int, seconds: float, freshness: Iterable[float]
    ) -> None:
        for table, n in written.items():
            if n:
                self._rows.labels(table).inc(n)
        self._batch_rows.observe(records)
        self._latency.observe(seconds)
        for s in freshness:
            self._freshness.observe(max(0.0, s))

    def on_retry(self) -> None:
        self._retries.inc()

    def set_database_up(self, up: bool) -> None:
        self._up.set(1 if up else 0)

    def on_dead_letter(self, reason: str) -> None:
        self._dead.labels(reason).inc()

    def on_dead_letter_in_doubt(self, reason: str) -> None:
        self._in_doubt.labels(reason).inc()

    def observe_lag(self, consumer: Any, stored: Mapping[Any, int]) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None and tp in stored:
                self._lag.labels(tp.topic, str(tp.partition)).set(max(0, high - stored[tp]))

    def set_active_listings(self, counts: Mapping[str, int]) -> None:
        for sector, n in counts.items():
            self._listings.labels(sector).set(n)


@functools.cache
def _default() -> SinkMetrics:
    return SinkMetrics(REGISTRY)
