"""The worker's batch-observed freshness histogram exposes what prometheus_client's would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streams.metrics import _FRESHNESS_BUCKETS, WorkerMetrics

_SECONDS = st.floats(min_value=-5, max_value=200_000, allow_nan=False)


def _samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, str], float]:
    lines = generate_latest(registry).decode().splitlines()
    found = {}
    for line in lines:
        if line.startswith(name):
            series, _, value = line.rpartition(" ")
            found[(series.split("{")[0], series)] = float(value)
    return found


@given(st.lists(st.tuples(st.sampled_from(["tax", "enterprise"]), _SECONDS), max_size=60))
def test_batch_observed_freshness_equals_one_observe_per_event(
    observed: list[tuple[str, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    metrics = WorkerMetrics(ours)
    reference = Histogram("zjcredit_worker_freshness_seconds", "ref", ["source"],
                          registry=theirs, buckets=_FRESHNESS_BUCKETS)  # fmt: skip
    for source in ("tax", "enterprise"):
        values = [s for src, s in observed if src == source]
        if values:
            metrics.on_events(source, len(values), values)
            for value in values:
                reference.labels(source).observe(max(0.0, value))
    mine = _samples(ours, "zjcredit_worker_freshness_seconds")
    want = {k: v for k, v in _samples(theirs, "zjcredit_worker_freshness_seconds").items()
            if not k[0].endswith("_created")}  # fmt: skip
    assert mine.keys() == want.keys()
    for key, value in want.items():
        assert abs(mine[key] - value) <= 1e-6 * max(1.0, abs(value)), key
