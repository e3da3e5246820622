"""kafka-python produces and aiokafka consumes, on the real broker.

The producers of this project are kafka-python (idempotent, acks=all) and the stream
processors sit on aiokafka; these tests pin that the two agree on keys, partitions,
ordering and consumer-group offsets with the chosen Kafka version.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from kafka import KafkaProducer

KEYS = [f"9133010071610585{i:02d}" for i in range(10)]


def _produce(bootstrap_servers: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=5,
    )
    sent = [(KEYS[i % len(KEYS)].encode(), f"event-{i}".encode()) for i in range(count)]
    futures = [producer.send(topic, key=k, value=v) for k, v in sent]
    producer.flush(timeout=30)
    producer.close()
    assert all(f.succeeded() for f in futures), [f.exception for f in futures if f.failed()]
    return sent


async def _consume(
    bootstrap_servers: str, topic: str, group: str, want: int, wait_s: float
) -> list[tuple[int, bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    got: list[tuple[int, bytes, bytes]] = []
    try:
        deadline = time.monotonic() + wait_s
        while len(got) < want and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                got.extend((tp.partition, m.key, m.value) for m in messages)
        await consumer.commit()
    finally:
        await consumer.stop()
    return got


async def test_keyed_records_arrive_in_order_per_key_in_one_partition(
    bootstrap_servers: str, new_topic: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    topic = new_topic("clients", partitions=3)
    sent = _produce(bootstrap_servers, topic, 300)

    got = await _consume(bootstrap_servers, topic, unique_name("group"), 300, wait_s=60)

    assert len(got) == 300
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    values_of_key: dict[bytes, list[bytes]] = defaultdict(list)
    for partition, key, value in got:
        partitions_of_key[key].add(partition)
        values_of_key[key].append(value)
    assert all(len(p) == 1 for p in partitions_of_key.values()), "a key spread over partitions"
    assert len({next(iter(p)) for p in partitions_of_key.values()}) > 1, "keys not spread"
    for key, values in values_of_key.items():
        assert values == [v for k, v in sent if k == key], f"order broken for {key!r}"


async def test_committed_group_offsets_resume_where_the_group_stopped(
    bootstrap_servers: str, new_topic: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    topic = new_topic("resume", partitions=2)
    group = unique_name("group")
    _produce(bootstrap_servers, topic, 40)
    first = await _consume(bootstrap_servers, topic, group, 40, wait_s=60)
    assert len(first) == 40

    _produce(bootstrap_servers, topic, 10)
    second = await _consume(bootstrap_servers, topic, group, 10, wait_s=60)

    assert len(second) == 10, "the group re-read records it had committed"
