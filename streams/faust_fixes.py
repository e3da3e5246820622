"""The worker's patches of Faust's internals, in one place (faust-streaming 0.15).

:func:`settle_repairs`: tell Faust's consumer about the messages :mod:`streams.continuity`
read itself. Faust commits an input partition up to its longest run of consecutive acked offsets.
The messages Continuity read back were never delivered by Faust, so they are acked here.
And Faust may have recorded the same hole as a "gap", which it counts as acked too
(including, off by one, the message after it): the same offset twice in its list breaks
its run of consecutive offsets, and its commit then crawls forward by one offset per
commit interval (seen: the crash test's last worker took minutes to commit). So the
gap's points that are acked for real are removed from it. Touches Faust's private
``Consumer._gap`` (an IntervalTree per partition).

:func:`patch_recovery_highwaters`: under ``exactly_once`` Faust takes a Table changelog's
end (where its recovery stops) from aiokafka's ``last_stable_offset(tp)``, which is only
known after a fetch from that partition: before one it is -1, and Faust then skips the
partition's recovery and starts with it empty (seen on every restart of the worker bench).
Patched to ask the broker (``end_offsets`` of a read_committed consumer is the last
stable offset).

:func:`patch_seek_to_committed`: after a rebalance Faust seeks its partitions back to the
group's committed offsets, because it drops what it fetched while they were paused. But
aiokafka's ``seek_to_committed`` leaves a partition with no committed offset (or 0)
where it is: the messages Faust dropped there are skipped for good. A worker taking
over partitions whose previous owner died before its first commit then never saw their
backlog (the two-worker failover test, 3 of 6 runs). Patched to seek such partitions of
the agent's topics to their beginning, as ``auto_offset_reset="earliest"`` means.

:func:`patch_commit_runs`: Faust finds the offset to commit as the first run of
consecutive numbers in its list of acked offsets (plus its gap records). An offset in
that list twice ends the run, and the commit then crawls one offset per interval (a CI
run's crash test: committed offsets stuck 300 behind after 3 minutes, every output
written). Patched to look for runs among distinct offsets.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import faust.transport.consumer as faust_consumer
from aiokafka import TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import Message

from streams.continuity import Admission

__all__ = [
    "patch_commit_runs",
    "patch_recovery_highwaters",
    "patch_seek_to_committed",
    "settle_repairs",
]


def settle_repairs(consumer: Any, admission: Admission) -> None:
    """Ack ``admission.repaired`` to Faust's ``consumer``; drop them from its gaps."""
    for topic, partition, offset, key, value in admission.repaired:
        # aiokafka's TopicPartition, as on Faust's own messages: aiokafka's commit
        # refuses Faust's TP if it becomes the key of the commit's offsets.
        tp = TopicPartition(topic, partition)
        consumer.ack(Message(topic, partition, offset, 0.0, 0, None, key, value, None, tp=tp))
    gaps = consumer._gap
    for topic, partition, offset, *_ in (*admission.repaired, *admission.revealing):
        tree = gaps.get(TopicPartition(topic, partition))
        if tree:
            tree.chop(offset, offset + 1)


async def _highwaters_from_the_broker(self: Any, partitions: Any) -> Any:
    return await self._ensure_consumer().end_offsets(partitions)


def patch_recovery_highwaters() -> None:
    """Make Faust's Table recovery read changelog ends from the broker (see above)."""
    if not hasattr(AIOKafkaConsumerThread, "_highwaters"):
        raise RuntimeError(
            "faust's AIOKafkaConsumerThread has no _highwaters: this faust-streaming release "
            "is not supported by streams/faust_fixes.py (tested with 0.15.x)"
        )
    AIOKafkaConsumerThread._highwaters = _highwaters_from_the_broker  # type: ignore[method-assign]


_FAUST_SEEK_TO_COMMITTED = AIOKafkaConsumerThread.seek_to_committed


def patch_seek_to_committed(topics: Collection[str]) -> None:
    """Make Faust's seek to committed offsets rewind uncommitted ``topics`` partitions."""
    original = _FAUST_SEEK_TO_COMMITTED  # not a patched one: build_app may run twice

    async def seek_to_committed(self: Any) -> Any:
        committed = await original(self)
        uncommitted = [tp for tp, offset in committed.items() if not offset and tp.topic in topics]
        if uncommitted:
            await self.seek_to_beginning(*uncommitted)
        return committed

    AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign]


_FAUST_CONSECUTIVE_NUMBERS = faust_consumer.consecutive_numbers  # type: ignore[attr-defined]


def _runs_of_distinct(numbers: Any) -> Any:
    return _FAUST_CONSECUTIVE_NUMBERS(sorted(set(numbers)))


def patch_commit_runs() -> None:
    """Make Faust's commit offsets ignore an offset acked twice (see above)."""
    faust_consumer.consecutive_numbers = _runs_of_distinct  # type: ignore[attr-defined,assignment]
