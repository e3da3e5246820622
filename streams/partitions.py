"""The input partitions this worker owns: their stores, their restore, their positions.

At every rebalance Faust tells the worker its new assignment (the ``on_partitions_assigned``
signal, awaited inside the rebalance). :meth:`Partitions.assign` then:

- checks the assignment is co-partitioned (partition ``p`` of every input topic, or none),
  or stops the worker with an :class:`~streams.errors.AssignmentError`;
- closes the stores of partitions that went to another worker (their cached states go
  too: the next owner moves them on);
- opens a store for each new partition and restores it from the changelog in a task of
  its own (streams/restore.py), so a long rebuild never holds up the rebalance: the
  agent waits for a partition's restore only when it has that partition's records;
- starts a new transactional producer for every partition new to it (which fences
  every earlier one) and stops those of revoked partitions.

An :class:`Owned` partition knows, per input topic, the next offset to fold (from the
store's meta: the offsets its states reflect) and the offset below which the outputs were
already committed by an earlier owner (the group's committed offset when it was
restored): inputs read again below it rebuild state but publish nothing.

States are read through a bounded LRU cache of decoded states per partition that holds
only committed states (:meth:`Partitions.lookup`, :meth:`Partitions.remember`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from streams import state_codec
from streams.core import Profile
from streams.errors import (
    AssignmentError,
    CorruptStoreError,
    StaleAssignmentError,
    StoreError,
    StoreInUseError,
)
from streams.faust_door import PartitionProducers
from streams.reader import Reader, TopicPartition
from streams.restore import Restored, restore
from streams.store import PartitionStore, StoreResources

__all__ = ["Owned", "Partitions", "Status", "partition_numbers"]

log = logging.getLogger("zjcredit.worker")


class Status(Enum):
    RESTORING = "restoring"  # store being brought level with the changelog
    READY = "ready"  # batches are folded
    LOST = "lost"  # its transaction was fenced: another worker has it now
    CLOSED = "closed"  # revoked, or the worker stops


@dataclass(eq=False)
class Owned:
    """One owned input partition."""

    number: int
    status: Status = Status.RESTORING
    store: PartitionStore | None = None
    positions: dict[str, int] = field(default_factory=dict)  # role -> next offset to fold
    committed: dict[str, int] = field(default_factory=dict)  # role -> outputs sent below
    changelog_next: int = 0
    cache: OrderedDict[bytes, Profile] = field(default_factory=OrderedDict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    restored: Restored | None = None

    def close(self) -> None:
        self.status = Status.CLOSED
        self.ready.set()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.store is not None:
            self.store.close()
        self.cache.clear()


def partition_numbers(topics: Iterable[str], assigned: Iterable[Any]) -> set[int]:
    """The partition numbers an assignment gives of every topic of ``topics``.

    AssignmentError unless it is co-partitioned (the same numbers of every topic);
    StaleAssignmentError, its kind, when some topics have no partition while the others
    have some: an assignment made before the member subscribed to them.
    """
    by_topic: dict[str, set[int]] = {t: set() for t in topics}
    for tp in assigned:
        if tp.topic in by_topic:
            by_topic[tp.topic].add(tp.partition)
    shapes = {frozenset(ps) for ps in by_topic.values()}
    if len(shapes) == 2 and frozenset() in shapes:
        raise StaleAssignmentError(sorted(t for t, ps in by_topic.items() if not ps))
    if len(shapes) != 1:
        detail = ", ".join(f"{t}: {sorted(ps)}" for t, ps in sorted(by_topic.items()))
        raise AssignmentError(f"the assignment is not co-partitioned: {detail}")
    return set(next(iter(shapes)))


class Partitions:
    """The worker's owned partitions.

    Args:
        bootstrap_servers: Kafka.
        group: the worker's consumer group (Faust app id).
        changelog: the state changelog topic.
        topics: input role -> topic name (the five sources and the ticks).
        data_dir: one store per partition under it (``p<n>``).
        resources: the stores' shared block cache and memtable budget.
        producers: Faust's per-partition transactional producers.
        cache_states: decoded states kept in memory, over all partitions.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group: str,
        changelog: str,
        topics: Mapping[str, str],
        data_dir: Path,
        resources: StoreResources,
        producers: PartitionProducers,
        cache_states: int,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.changelog = changelog
        self.topics = dict(topics)
        self.roles = {topic: role for role, topic in topics.items()}
        self.data_dir = data_dir
        self.resources = resources
        self.producers = producers
        self.cache_states = cache_states
        self.owned: dict[int, Owned] = {}
        # Told of each restore as it completes (the worker's metrics).
        self.on_restored: Callable[[Restored], None] = lambda restored: None
        # Reads the inputs a lost state needs again (streams/checkpoint.py replay()).
        self.replay: Callable[[Owned, Reader], Awaitable[None]] | None = None
        # Told of every changelog record copied (the crash test's ``rebuild:N`` fault).
        self.on_copied: Callable[[int], None] = lambda n: None
        # Told of a partition lost while still assigned here (the worker asks the group
        # for a new assignment: only that starts its producer again).
        self.on_lost: Callable[[Owned], None] = lambda owned: None

    # -- assignment ----------------------------------------------------------------

    def numbers_of(self, assigned: Iterable[Any]) -> set[int]:
        """The partition numbers of an assignment (:func:`partition_numbers`)."""
        return partition_numbers(self.topics.values(), assigned)

    async def assign(self, assigned: Iterable[Any]) -> None:
        """Take the new assignment (inside Faust's rebalance: nothing slow here)."""
        numbers = self.numbers_of(assigned)
        for number in sorted(set(self.owned) - numbers):
            log.info("partition=%d revoked: its state store is closed", number)
            self.owned.pop(number).close()
            await self.producers.stop(number)
        for number in sorted(numbers):
            current = self.owned.get(number)
            if current is None or current.status in (Status.LOST, Status.CLOSED):
                if current is not None:
                    current.close()
                await self.producers.renew(number)
                owned = self.owned[number] = Owned(number)
                owned.task = asyncio.create_task(self._restore(owned), name=f"restore-p{number}")
        per_partition = max(1, self.cache_states // max(1, len(self.owned)))
        for owned in self.owned.values():
            _trim(owned.cache, per_partition)

    async def _restore(self, owned: Owned, wipe: str | None = None) -> None:
        number = owned.number
        try:
            topic_id = await asyncio.to_thread(_topic_id, self.bootstrap_servers, self.changelog)
            owned.store = store = self._open(number, wipe)
            async with Reader(self.bootstrap_servers, self.group) as reader:
                restored = await restore(store, reader, self.changelog, topic_id,
                                         partition=number, on_progress=self.on_copied)  # fmt: skip
                owned.store, owned.restored = restored.store, restored
                tps = {role: TopicPartition(topic, number) for role, topic in self.topics.items()}
                firsts = await reader.beginnings(list(tps.values()))
                committed = await reader.committed(list(tps.values()))
                inputs = restored.meta.inputs
                owned.positions = {role: inputs.get(role, firsts[tp]) for role, tp in tps.items()}
                owned.committed = {role: committed.get(tp, 0) for role, tp in tps.items()}
                owned.changelog_next = restored.meta.changelog_next
                behind = {r: owned.committed[r] - p for r, p in owned.positions.items()
                          if owned.committed[r] > p}  # fmt: skip
                if behind:
                    log.warning(
                        "partition=%d the states lag the committed offsets by %s: those inputs "
                        "are read again to rebuild them, without sending their outputs again",
                        number, behind,
                    )  # fmt: skip
                    assert self.replay is not None, "the worker sets Partitions.replay"
                    await self.replay(owned, reader)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("partition=%d restoring the state store failed", number)
            owned.ready.set()  # the agent waiting on it sees the error (ready())
            raise
        self.on_restored(restored)
        if owned.status is Status.RESTORING:
            owned.status = Status.READY
        owned.ready.set()

    def _open(self, number: int, wipe: str | None) -> PartitionStore:
        """The partition's store; one RocksDB cannot open (corrupt) is wiped and made anew."""
        path = self.data_dir / f"p{number}"
        if wipe is None:
            try:
                return PartitionStore.open(path, self.resources)
            except StoreInUseError:
                raise
            except StoreError as error:
                wipe = str(error)
        log.warning("partition=%d the state store is rebuilt from the changelog: %s", number, wipe)
        shutil.rmtree(path, ignore_errors=True)
        return PartitionStore.open(path, self.resources)

    async def rebuild(self, number: int, why: str) -> None:
        """Wipe the partition's store (found corrupt mid-batch) and restore it again."""
        old = self.owned.get(number)
        if old is None:
            return
        old.close()
        owned = self.owned[number] = Owned(number)
        owned.task = asyncio.create_task(self._restore(owned, wipe=why), name=f"rebuild-p{number}")
        await owned.ready.wait()

    async def ready(self, number: int) -> Owned | None:
        """The partition once restored, or None if it is not (or no longer) ours.

        A restore that failed fails the caller (the worker stops with its error).
        """
        owned = self.owned.get(number)
        if owned is None:
            return None
        if owned.status is Status.RESTORING:
            await owned.ready.wait()
            if owned.task is not None and owned.task.done() and not owned.task.cancelled():
                owned.task.result()  # raises the restore's error
        return owned if owned.status is Status.READY and self.owned.get(number) is owned else None

    def is_current(self, owned: Owned) -> bool:
        """``owned`` is still this worker's partition (ready, or being restored)."""
        live = owned.status in (Status.RESTORING, Status.READY)
        return live and self.owned.get(owned.number) is owned

    def lose(self, owned: Owned, why: str) -> None:
        """Its transaction was fenced: forget the partition until it is assigned again."""
        if owned.status is Status.READY:
            log.warning("partition=%d lost to another worker (%s): its work is left to it",
                        owned.number, why)  # fmt: skip
            owned.status = Status.LOST
            owned.cache.clear()
            self.on_lost(owned)

    # -- states --------------------------------------------------------------------

    def lookup(self, owned: Owned, key: bytes) -> Profile | None:
        """The committed state of ``key``: the cache, else the store (then cached)."""
        cache = owned.cache
        state = cache.get(key)
        if state is not None:
            cache.move_to_end(key)
            return state
        assert owned.store is not None
        try:
            data = owned.store.get(key)
            if data is None:
                return None
            state = state_codec.loads(data)
        except StoreError as error:  # a state that does not decode is a corrupt store
            raise CorruptStoreError(
                owned.number, f"{key.decode(errors='replace')}: {error}"
            ) from error
        self._put(owned, key, state)
        return state

    def remember(self, owned: Owned, states: Mapping[bytes, Profile]) -> None:
        """``states`` are committed and durable: they are what the cache holds now."""
        for key, state in states.items():
            self._put(owned, key, state)

    def _put(self, owned: Owned, key: bytes, state: Profile) -> None:
        cache = owned.cache
        cache[key] = state
        cache.move_to_end(key)
        _trim(cache, max(1, self.cache_states // max(1, len(self.owned))))

    async def close(self) -> None:
        for owned in self.owned.values():
            owned.close()
        tasks = [o.task for o in self.owned.values() if o.task is not None]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.owned.clear()


def _trim(cache: OrderedDict[bytes, Profile], size: int) -> None:
    while len(cache) > size:
        cache.popitem(last=False)


def _topic_id(bootstrap_servers: str, topic: str) -> str | None:
    """The topic's id (a recreated topic has a new one), or None if the broker has none."""
    from kafka import KafkaAdminClient  # noqa: PLC0415

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="zjcredit-worker")
    try:
        described = admin.describe_topics([topic])
    finally:
        admin.close()
    topic_id = described[0].get("topic_id") if described else None
    return str(topic_id) if topic_id else None
