"""Every input offset handled once, in order: a check on Faust's consumer, and a repair.

faust-streaming 0.15 can, after a restart or a rebalance, hand the agent a partition's
messages starting *past* the group's committed offset: it resumes the partitions before
it seeks them (faust-streaming#596, #606), records the skipped range as a "gap" and
later commits over it, so those events are lost. It can also deliver again what was
already handled. And under ``exactly_once`` it can skip a Table partition's recovery
when it reads the changelog's end offset as -1 before aiokafka knows it.

:class:`Continuity` keeps, per input partition, the next offset the agent must see,
starting from the group's committed offset (asked of the broker after each rebalance):

- a message below it was handled already (its outputs are committed or pending in the
  open transaction): it is dropped, so nothing (not even a dead letter) is sent twice;
- a message above it means Faust skipped the range in between: the range is read here,
  read_committed, with a consumer of our own, and handed to the agent first (records
  that are not there, such as transaction markers or expired ones, are no gap);
- :meth:`Continuity.changelog` reads a Table changelog partition, for the worker to
  reload a partition Faust left empty.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["Admission", "Continuity", "Received"]

log = logging.getLogger("zjcredit.worker")

Received = tuple[str, int, int, bytes | None, bytes | None]
"""``(topic, partition, offset, key, value)`` of an input message."""

_FETCH_TIMEOUT_MS = 1000


@dataclass
class Admission:
    """What :meth:`Continuity.admit` lets through.

    Attributes:
        messages: what to handle, in offset order per partition.
        repaired: those of ``messages`` read here: Faust never delivered them, so the
            caller must ack them to Faust's consumer, or it never commits past them.
        revealing: the delivered messages right after a hole (repaired or not: Faust
            counts them in its record of the hole, and the caller acks them too).
    """

    messages: list[Received] = field(default_factory=list)
    repaired: list[Received] = field(default_factory=list)
    revealing: list[Received] = field(default_factory=list)


class Continuity:
    """Next expected offset per input partition, and reads that fill Faust's gaps.

    Args:
        bootstrap_servers: Kafka, ``host:port[,...]``.
        group_id: the worker's consumer group (whose committed offsets count).
    """

    def __init__(self, bootstrap_servers: str, group_id: str) -> None:
        self._config = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,  # to read the group's committed offsets; never joins
            "enable_auto_commit": False,
            "isolation_level": "read_committed",
            "auto_offset_reset": "earliest",
        }
        self._consumer: Any = None
        self._next: dict[TopicPartition, int] = {}
        self.repaired = 0  # messages read here that Faust skipped
        self.dropped = 0  # messages Faust delivered twice

    async def start(self) -> None:
        """Connect (inside the worker's event loop, as aiokafka requires)."""
        self._consumer = AIOKafkaConsumer(**self._config)
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    def reset(self) -> None:
        """A rebalance happened: ask the broker again where each partition stands."""
        self._next.clear()

    async def admit(self, received: Sequence[Received]) -> Admission:
        """``received`` in offset order per partition, without repeats and without holes."""
        admission = Admission()
        for message in received:
            topic, partition, offset = message[:3]
            tp = TopicPartition(topic, partition)
            expected = self._next.get(tp)
            if expected is None:
                expected = self._next[tp] = await self._start_of(tp)
            if offset < expected:
                self.dropped += 1
                continue
            if offset > expected:
                missing = await self._read(tp, expected, offset)
                if missing:
                    log.warning(
                        "partition=%r faust skipped offsets %d..%d: read %d message(s) "
                        "ourselves (faust-streaming#596)",
                        f"{topic}[{partition}]", expected, offset - 1, len(missing),
                    )  # fmt: skip
                    self.repaired += len(missing)
                    admission.messages += missing
                    admission.repaired += missing
                admission.revealing.append(message)
            admission.messages.append(message)
            self._next[tp] = offset + 1
        return admission

    async def _start_of(self, tp: TopicPartition) -> int:
        """The group's committed offset of ``tp``, or where an uncommitted one starts."""
        committed = await self._consumer.committed(tp)
        first: int = (await self._consumer.beginning_offsets([tp]))[tp]
        return first if committed is None else max(committed, first)

    async def _read(self, tp: TopicPartition, start: int, stop: int) -> list[Received]:
        """The committed messages of ``tp`` in ``[start, stop)``."""
        return [(tp.topic, tp.partition, r.offset, r.key, r.value)
                for r in await self._records(tp, start, stop)]  # fmt: skip

    async def changelog(self, topic: str, partition: int) -> list[tuple[bytes, bytes | None]]:
        """Every committed ``(key, value)`` of a changelog partition, oldest first."""
        tp = TopicPartition(topic, partition)
        end = (await self._consumer.end_offsets([tp]))[tp]  # read_committed: stable end
        first = (await self._consumer.beginning_offsets([tp]))[tp]
        return [(r.key, r.value) for r in await self._records(tp, first, end)]

    async def _records(self, tp: TopicPartition, start: int, stop: int) -> list[Any]:
        consumer = self._consumer
        if stop <= start:
            return []
        consumer.assign([tp])
        consumer.seek(tp, start)
        found: list[Any] = []
        while await consumer.position(tp) < stop:
            batch = await consumer.getmany(tp, timeout_ms=_FETCH_TIMEOUT_MS)
            found += [r for r in batch.get(tp, ()) if r.offset < stop]
        return found
