"""Which partition numbers an assignment gives: co-partitioned, stale, or broken."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka import TopicPartition

from streams.errors import AssignmentError, StaleAssignmentError
from streams.partitions import Owned, Partitions, Status, partition_numbers

TOPICS = ("p.enterprise", "p.tax", "p.patent", "p.ticks")


def tps(*pairs: tuple[str, int]) -> list[TopicPartition]:
    return [TopicPartition(t, n) for t, n in pairs]


def test_a_co_partitioned_assignment_gives_its_numbers_and_other_topics_are_ignored() -> None:
    assigned = tps(*((t, n) for t in TOPICS for n in (1, 3)), ("p.changelog", 0))
    assert partition_numbers(TOPICS, assigned) == {1, 3}
    assert partition_numbers(TOPICS, []) == set()  # more members than partitions


def test_a_topic_with_no_partition_is_a_stale_assignment_naming_it() -> None:
    """A static member that rejoins subscribed to a new topic gets its old assignment."""
    assigned = tps(*((t, n) for t in TOPICS if t != "p.patent" for n in (0, 1)))
    with pytest.raises(StaleAssignmentError, match=r"no partition of p\.patent") as caught:
        partition_numbers(TOPICS, assigned)
    assert caught.value.missing == ["p.patent"]


def test_different_numbers_per_topic_break_co_partitioning() -> None:
    assigned = tps(("p.enterprise", 0), ("p.tax", 1), ("p.patent", 0), ("p.ticks", 0))
    with pytest.raises(AssignmentError, match="not co-partitioned") as caught:
        partition_numbers(TOPICS, assigned)
    assert not isinstance(caught.value, StaleAssignmentError)


def test_a_ready_partition_lost_is_told_once_and_a_revoked_one_not_at_all(tmp_path: Path) -> None:
    """A fenced partition still assigned here makes the worker ask for a rebalance."""
    partitions = Partitions(bootstrap_servers="unused:9092", group="g", changelog="g.state",
                            topics={"tax": "p.tax"}, data_dir=tmp_path,
                            resources=None, producers=None, cache_states=100)  # type: ignore[arg-type]  # fmt: skip
    told: list[int] = []
    partitions.on_lost = lambda owned: told.append(owned.number)
    ready, closed = Owned(3, status=Status.READY), Owned(4, status=Status.CLOSED)
    partitions.lose(ready, "ProducerFenced")
    partitions.lose(ready, "ProducerFenced")  # lost already
    partitions.lose(closed, "revoked")
    assert told == [3]
    assert ready.status is Status.LOST
    assert closed.status is Status.CLOSED
