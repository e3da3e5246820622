"""The hash kafka-python's default partitioner puts a key to, computed where rows are encoded.

kafka-python's ``send()`` costs about 60 µs a record in the one process that sends, and
about a quarter of it is choosing the partition: a pure-Python murmur2 of the key plus
three metadata lookups. The encoder worker processes compute the hash instead (with
kafka-python's own murmur2, so a key lands on exactly the partition the default
partitioner, and the Java client, would give it), and the sender only takes it modulo
the topic's partition count: :meth:`producers.publisher.Publisher.send_encoded`.
"""

from __future__ import annotations

import functools

from kafka.partitioner.default import murmur2

__all__ = ["key_hash", "partition_for"]


@functools.lru_cache(maxsize=1 << 16)
def key_hash(key: bytes) -> int:
    """The default partitioner's positive murmur2 of ``key`` (cached: an enterprise's
    credit code is the key of each of its rows)."""
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


def partition_for(hashed: int, partitions: list[int]) -> int:
    """The partition of a key of hash ``hashed`` among ``partitions`` (sorted ids), as
    kafka-python's DefaultPartitioner picks it."""
    return partitions[hashed % len(partitions)]
