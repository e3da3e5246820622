"""Consumer lag per partition (worker) and the read-model gauges' hook (sink)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from sink.metrics import SinkMetrics
from streams.metrics import WorkerMetrics


def test_worker_lag_per_partition_and_revoked_partitions_drop_out() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    # (topic, partition) -> (high watermark, next offset the worker folds)
    metrics.observe_lag({("p.tax", 0): (100, 90), ("p.tax", 1): (7, 0), ("p.ticks", 0): (None, 0)})

    def lag(topic: str, partition: int) -> float | None:
        labels = {"topic": topic, "partition": str(partition)}
        return registry.get_sample_value("zjcredit_worker_consumer_lag", labels)

    assert lag("p.tax", 0) == 10  # offsets 90..99 not folded
    assert lag("p.tax", 1) == 7  # nothing folded: all of it
    assert lag("p.ticks", 0) is None  # no high watermark known yet: no series
    metrics.observe_lag({("p.tax", 1): (9, 9)})  # tax[0] revoked
    assert lag("p.tax", 0) is None
    assert lag("p.tax", 1) == 0


def test_sink_active_listings_by_sector() -> None:
    registry = CollectorRegistry()
    SinkMetrics(registry).set_active_listings({"court_defaulter": 12, "environment": 0})
    value = registry.get_sample_value
    assert value("zjcredit_sink_active_listings", {"sector": "court_defaulter"}) == 12
    assert value("zjcredit_sink_active_listings", {"sector": "environment"}) == 0
