"""Tell Faust's consumer about the messages :mod:`streams.continuity` read itself.

Faust commits an input partition up to its longest run of consecutive acked offsets.
The messages Continuity read back were never delivered by Faust, so they are acked here.
And Faust may have recorded the same hole as a "gap", which it counts as acked too
(including, off by one, the message after it): the same offset twice in its list breaks
its run of consecutive offsets, and its commit then crawls forward by one offset per
commit interval (seen: the crash test's last worker took minutes to commit). So the
gap's points that are acked for real are removed from it. Touches Faust's private
``Consumer._gap`` (an IntervalTree per partition, faust-streaming 0.15).
"""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from faust.types import Message

from streams.continuity import Admission

__all__ = ["settle_repairs"]


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
