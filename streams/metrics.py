"""Stream-worker metrics, declared once, behind hooks.

The worker calls ``on_events``, ``on_notices``, ``on_dead_letter``, ``on_input_fixes``,
``on_batch``, ``observe_lag``; only this module touches prometheus_client. Tests pass a
fresh ``CollectorRegistry``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["WorkerMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Freshness spans from sub-second (live) to days (a department's late batch export).
_FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)


class WorkerMetrics:
    """Counters and histograms of one worker process (see docs for each name)."""

    @classmethod
    def default(cls) -> WorkerMetrics:
        return _default()

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._events = Counter(
            "zjcredit_worker_events_total",
            "Input events folded into profiles",
            ["source"],
            registry=registry,
        )
        self._notices = Counter(
            "zjcredit_worker_notices_total",
            "Joint-penalty notices emitted",
            ["kind"],
            registry=registry,
        )
        self._dead = Counter(
            "zjcredit_worker_dead_letters_total",
            "Messages sent to the dead-letter topic",
            ["reason"],
            registry=registry,
        )
        self._profiles = Counter(
            "zjcredit_worker_profiles_published_total",
            "Profiles written to the profiles topic",
            registry=registry,
        )
        self._continuity = Counter(
            "zjcredit_worker_input_fixes_total",
            "Input messages Faust skipped (read by the worker itself: repaired) or "
            "delivered again (dropped); see streams/continuity.py",
            ["fix"],
            registry=registry,
        )
        self._latency = Histogram(
            "zjcredit_worker_batch_latency_seconds",
            "From taking a batch of messages to their outputs handed to the transaction",
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self._freshness = Histogram(
            "zjcredit_worker_freshness_seconds",
            "From an event's reported_at to its profile handed to the transaction",
            ["source"],
            registry=registry,
            buckets=_FRESHNESS_BUCKETS,
        )
        self._lag = Gauge(
            "zjcredit_worker_consumer_lag",
            "Records in an input partition this worker has not read yet "
            "(high watermark - next offset to read)",
            ["topic", "partition"],
            registry=registry,
        )
        self._lag_labels: set[tuple[str, str]] = set()

    def on_events(self, source: str, count: int, freshness: Iterable[float]) -> None:
        self._events.labels(source).inc(count)
        observe = self._freshness.labels(source).observe
        for seconds in freshness:
            observe(max(0.0, seconds))

    def on_notices(self, kind: str, count: int = 1) -> None:
        self._notices.labels(kind).inc(count)

    def on_dead_letter(self, reason: str) -> None:
        self._dead.labels(reason).inc()

    def on_input_fixes(self, repaired: int, dropped: int) -> None:
        self._continuity.labels("repaired").inc(repaired)
        self._continuity.labels("dropped").inc(dropped)

    def on_batch(self, seconds: float, profiles: int) -> None:
        self._latency.observe(seconds)
        self._profiles.inc(profiles)

    def observe_lag(self, consumer: Any, topics: Iterable[str]) -> None:
        """Set the lag of every assigned partition of ``topics`` from Faust's consumer.

        Partitions no longer assigned drop out, so a rebalance leaves no stale series.
        """
        wanted = set(topics)
        seen: set[tuple[str, str]] = set()
        try:
            assigned = consumer.assignment()
        except Exception:  # noqa: BLE001 - not started yet / stopping: lag unknown, try later
            return
        for tp in assigned:
            if tp.topic not in wanted:
                continue
            high = consumer.highwater(tp)
            if high is None:  # nothing fetched from this partition yet
                continue
            # Faust has no public read position: its last read offset, else the committed one.
            read = consumer._read_offset.get(tp)
            position = read + 1 if read is not None else consumer._committed_offset.get(tp) or 0
            labels = (tp.topic, str(tp.partition))
            self._lag.labels(*labels).set(max(0, high - position))
            seen.add(labels)
        for labels in self._lag_labels - seen:
            self._lag.remove(*labels)
        self._lag_labels = seen


@functools.cache
def _default() -> WorkerMetrics:
    return WorkerMetrics(REGISTRY)
