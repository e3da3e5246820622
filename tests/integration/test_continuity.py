"""streams/continuity.py on the real broker: repeats dropped, Faust's holes filled.

The crash test meets these cases by chance; here they are made on purpose: the group's
committed offset is set, then messages are "delivered" with a hole and with repeats.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from streams.continuity import Continuity, Received


async def _produce(bootstrap_servers: str, topic: str, n: int) -> list[Received]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        sent = []
        for i in range(n):
            meta = await producer.send_and_wait(topic, f"v{i}".encode(), key=b"k", partition=0)
            sent.append((topic, 0, meta.offset, b"k", f"v{i}".encode()))
        return sent
    finally:
        await producer.stop()


async def _commit(bootstrap_servers: str, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def test_a_hole_after_the_committed_offset_is_read_and_repeats_are_dropped(
    bootstrap_servers: str, new_topic: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    topic, group = new_topic("cont", partitions=1), unique_name("cont-group")
    sent = await _produce(bootstrap_servers, topic, 10)
    await _commit(bootstrap_servers, group, TopicPartition(topic, 0), 3)
    continuity = Continuity(bootstrap_servers, group)
    await continuity.start()
    try:
        # Faust hands over 6..7 first: 3..5 must come back, read by Continuity itself.
        admission = await continuity.admit(sent[6:8])
        assert (admission.messages, admission.repaired) == (sent[3:8], sent[3:6])
        assert admission.revealing == sent[6:7]
        assert continuity.repaired == 3
        # Delivered again (8 is new): only 8 passes.
        assert (await continuity.admit(sent[5:9])).messages == sent[8:9]
        assert continuity.dropped == 3
        # After a rebalance the committed offset counts again: 3..9 are due.
        continuity.reset()
        again = await continuity.admit(sent[3:10])
        assert (again.messages, again.repaired) == (sent[3:10], [])
    finally:
        await continuity.stop()


async def test_an_uncommitted_partition_starts_at_its_first_offset_and_a_changelog_reads_whole(
    bootstrap_servers: str, new_topic: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    topic, group = new_topic("cont", partitions=1), unique_name("cont-group")
    sent = await _produce(bootstrap_servers, topic, 4)
    continuity = Continuity(bootstrap_servers, group)
    await continuity.start()
    try:
        admission = await continuity.admit(sent[2:])  # nothing committed: from offset 0
        assert (admission.messages, admission.repaired) == (sent, sent[:2])
        assert await continuity.changelog(topic, 0) == [(k, v) for *_, k, v in sent]
    finally:
        await continuity.stop()
