"""The partition the encoder workers' hash gives is the one kafka-python's partitioner picks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner

from producers.partitioning import key_hash, partition_for


class _Cluster:
    """The three metadata lookups DefaultPartitioner makes, for one topic."""

    def __init__(self, partitions: set[int]) -> None:
        self._partitions = partitions

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self._partitions)

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(self._partitions)


@given(
    key=st.binary(min_size=0, max_size=40),
    partitions=st.sets(st.integers(0, 200), min_size=1, max_size=40),
)
def test_the_same_partition_as_the_default_partitioner(key: bytes, partitions: set[int]) -> None:
    expected = DefaultPartitioner().partition("t", key, key, b"v", b"v", _Cluster(partitions))
    assert partition_for(key_hash(key), sorted(partitions)) == expected


def test_a_hash_is_positive_and_independent_of_the_partition_count() -> None:
    # The hash is computed before the sender knows the topic's partitions: the same hash
    # serves any count.
    code = b"91330000MA27U8XX4F"
    hashed = key_hash(code)
    assert 0 <= hashed < 2**31
    for count in (1, 4, 12):
        expected = DefaultPartitioner().partition(
            "t", code, code, b"v", b"v", _Cluster(set(range(count)))
        )
        assert partition_for(hashed, list(range(count))) == expected
