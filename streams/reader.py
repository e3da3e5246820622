"""Reads of committed records the worker does itself, beside Faust's consumer.

A :class:`Reader` is an aiokafka consumer of no group (it only assigns partitions), reads
``read_committed`` (aborted transactions and their markers are invisible) and asks the
broker for the worker group's committed offsets. The worker uses one for each job that
must not share a position with another:

- restoring a partition store from the state changelog (streams/restore.py);
- filling a hole in what Faust's consumer delivered, and replaying inputs whose states
  were lost (streams/checkpoint.py).

Example::

    async with Reader(bootstrap, group) as reader:
        begin, end = await reader.bounds(tp)
        async for records in reader.read(tp, begin, end):
            ...
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["Reader", "TopicPartition"]

log = logging.getLogger(__name__)

_FETCH_TIMEOUT_MS = 200
# A read whose position has not moved for this long, over at least this many empty
# fetches, is at the end (see read()). Two empty fetches of 200 ms were not enough: with
# twelve stores rebuilding at once from a busy broker, a rebuild stopped at 443,333 of
# 1,000,000 states and called itself complete.
_STALL_S = 3.0
_STALL_FETCHES = 5


class Reader:
    """Committed records of chosen partitions, and the group's committed offsets.

    Args:
        bootstrap_servers: Kafka, ``host:port[,...]``.
        group_id: the worker's consumer group, whose committed offsets :meth:`committed`
            reads (through the admin API: the reader is in no group).
        fetch_bytes: most bytes fetched per partition per request.
    """

    def __init__(self, bootstrap_servers: str, group_id: str, fetch_bytes: int = 4 << 20) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._group_id = group_id
        self._config = {
            "bootstrap_servers": bootstrap_servers,
            # No group: an aiokafka consumer with a group runs a coordination routine that
            # asserts on its assignment, and one assign() while it is at an await fails it
            # (aio-libs/aiokafka#796, open): every later getmany() raised "Unexpected error
            # during coordination AssertionError()" and the worker stopped. Without a
            # group there is no such routine, so read() can assign a partition per call.
            "group_id": None,
            "enable_auto_commit": False,
            "isolation_level": "read_committed",
            "auto_offset_reset": "earliest",
            "max_partition_fetch_bytes": fetch_bytes,
            "fetch_max_wait_ms": 50,  # an empty fetch tells the end quickly (see read())
        }
        self._consumer: Any = None

    async def __aenter__(self) -> Reader:
        # Made here: aiokafka binds a consumer to the event loop running when it is made.
        self._consumer = AIOKafkaConsumer(**self._config)
        await self._consumer.start()
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self._consumer.stop()

    async def bounds(self, tp: TopicPartition) -> tuple[int, int]:
        """``(first offset, last stable offset)`` of ``tp``: what is there and committed."""
        begin = (await self._consumer.beginning_offsets([tp]))[tp]
        end = (await self._consumer.end_offsets([tp]))[tp]  # read_committed: the LSO
        return begin, end

    async def ends(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The last stable offset of each of ``tps``."""
        found: dict[TopicPartition, int] = await self._consumer.end_offsets(list(tps))
        return found

    async def beginnings(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        found: dict[TopicPartition, int] = await self._consumer.beginning_offsets(list(tps))
        return found

    async def committed(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offset of each of ``tps`` that has one."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap_servers)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self._group_id, partitions=list(tps))
        finally:
            await admin.close()
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def read(
        self,
        tp: TopicPartition,
        start: int,
        stop: int,
        limit: int | None = None,
        *,
        transactional: bool = False,
    ) -> AsyncIterator[list[Any]]:
        """The committed records of ``tp`` in ``[start, stop)``, a fetch at a time.

        ``limit`` stops after about that many records (the last list is cut to it).
        ``transactional``: every record of ``tp`` was written in a transaction (the state
        changelog), so the offset just before the last stable offset is a marker.
        """
        if stop <= start:
            return
        consumer = self._consumer
        consumer.assign([tp])
        consumer.seek(tp, start)
        left = limit
        idle, moved = 0, time.monotonic()
        while (position := await consumer.position(tp)) < stop:
            batch = (await consumer.getmany(tp, timeout_ms=_FETCH_TIMEOUT_MS)).get(tp, [])
            if not batch:
                # aiokafka does not step over a transaction marker (or aborted records) at
                # the end of a partition (aio-libs/aiokafka#911, open): its position stays
                # short of the end. In a transactional partition the offset before the
                # last stable offset is always a marker: stuck there is the end. Otherwise
                # only a long stall says so; a slow broker also answers empty fetches.
                if await consumer.position(tp) != position:
                    idle, moved = 0, time.monotonic()
                    continue
                if transactional and stop - position == 1:
                    return
                idle += 1
                if idle >= _STALL_FETCHES and time.monotonic() - moved >= _STALL_S:
                    log.info("partition=%r read ends at %d, %d offset(s) short of %d "
                             "(markers or aborted records)", f"{tp.topic}[{tp.partition}]",
                             position, stop - position, stop)  # fmt: skip
                    return
                continue
            idle, moved = 0, time.monotonic()
            records = [r for r in batch if r.offset < stop]
            if left is not None:
                records = records[:left]
                left -= len(records)
            if records:
                yield records
            if left is not None and left <= 0:
                return
