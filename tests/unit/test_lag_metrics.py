"""Consumer lag per partition (worker) and the read-model gauges' hook (sink)."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from prometheus_client import CollectorRegistry

from sink.metrics import SinkMetrics
from streams.metrics import WorkerMetrics


class TP(NamedTuple):
    topic: str
    partition: int


class FakeFaustConsumer:
    """What observe_lag reads from Faust's consumer: assignment, highwater, offsets."""

    def __init__(self, highwaters: dict[TP, int | None], read: dict[TP, int]) -> None:
        self.highwaters = highwaters
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None, read)
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters[tp]


def test_worker_lag_per_partition_and_revoked_partitions_drop_out() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    tax0, tax1, ticks = TP("p.tax", 0), TP("p.tax", 1), TP("p.ticks", 0)
    consumer = FakeFaustConsumer({tax0: 100, tax1: 7, ticks: 5}, {tax0: 89})
    metrics.observe_lag(consumer, ["p.tax"])

    def lag(tp: TP) -> float | None:
        labels = {"topic": tp.topic, "partition": str(tp.partition)}
        return registry.get_sample_value("zjcredit_worker_consumer_lag", labels)

    assert lag(tax0) == 10  # offsets 90..99 unread
    assert lag(tax1) == 7  # nothing read or committed: all of it
    assert lag(ticks) is None  # not one of the topics asked for
    consumer.highwaters = {tax1: 9}  # tax[0] revoked
    consumer._read_offset[tax1] = 8
    metrics.observe_lag(consumer, ["p.tax"])
    assert lag(tax0) is None
    assert lag(tax1) == 0


def test_sink_active_listings_by_sector() -> None:
    registry = CollectorRegistry()
    SinkMetrics(registry).set_active_listings({"court_defaulter": 12, "environment": 0})
    value = registry.get_sample_value
    assert value("zjcredit_sink_active_listings", {"sector": "court_defaulter"}) == 12
    assert value("zjcredit_sink_active_listings", {"sector": "environment"}) == 0


def test_worker_lag_waits_for_a_consumer_that_has_not_started() -> None:
    class NotStarted(FakeFaustConsumer):
        def assignment(self) -> set[TP]:
            raise RuntimeError("Consumer thread not yet started")

    registry = CollectorRegistry()
    WorkerMetrics(registry).observe_lag(NotStarted({}, {}), ["p.tax"])  # no error, no series
    assert registry.get_sample_value("zjcredit_worker_consumer_lag", {}) is None
