"""The stall watch: a partition behind and unmoved is sent back, unless the worker is busy."""

from __future__ import annotations

from streams.stall import StallWatch

TP = ("x.tax", 3)


def test_a_partition_behind_and_unmoved_for_the_stall_time_is_named_once_per_stall() -> None:
    watch: StallWatch[tuple[str, int]] = StallWatch(stall_s=4.0)
    lag = {TP: (100, 40)}
    assert watch.stalled(lag, now=0.0) == []
    assert watch.stalled(lag, now=3.9) == []
    assert watch.stalled(lag, now=4.0) == [(TP, 40)]
    assert watch.stalled(lag, now=5.0) == []  # its clock started again
    assert watch.stalled(lag, now=8.0) == [(TP, 40)]


def test_a_partition_that_moves_or_is_caught_up_is_not_stalled() -> None:
    watch: StallWatch[tuple[str, int]] = StallWatch(stall_s=4.0)
    assert watch.stalled({TP: (100, 40)}, now=0.0) == []
    assert watch.stalled({TP: (100, 41)}, now=3.0) == []
    assert watch.stalled({TP: (100, 41)}, now=6.9) == []
    assert watch.stalled({TP: (100, 41)}, now=7.0) == [(TP, 41)]
    assert watch.stalled({TP: (100, 100)}, now=20.0) == []
    assert watch.stalled({TP: (None, 5)}, now=30.0) == []


def test_while_batches_come_half_full_nothing_is_stalled_until_the_stall_time_after() -> None:
    watch: StallWatch[tuple[str, int]] = StallWatch(stall_s=4.0)
    watch.on_batch(records=4_999, batch_size=10_000, now=0.0)
    assert not watch.catching_up(0.0)
    watch.on_batch(records=5_000, batch_size=10_000, now=1.0)
    assert watch.catching_up(1.0)
    lag = {TP: (100, 0)}
    assert watch.stalled(lag, now=1.0) == []
    watch.on_batch(records=10_000, batch_size=10_000, now=4.0)
    assert watch.stalled(lag, now=7.9) == []  # waiting its turn, not stalled
    assert watch.stalled(lag, now=8.0) == []  # the clock starts when the worker is free
    assert watch.stalled(lag, now=11.9) == []
    assert watch.stalled(lag, now=12.0) == [(TP, 0)]
