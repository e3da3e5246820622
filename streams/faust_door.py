"""The one door between the worker and Faust's (and aiokafka's) private parts.

The worker uses Faust for what it is good at: group membership, the co-partitioned
assignment, one transactional producer per input partition (started and fenced at each
rebalance), agents, timers and the worker's life cycle. Everything else (which offsets to
read, which to commit, when to commit, where states live) is the worker's own
(streams/checkpoint.py). Nothing of Faust is patched. What the worker needs from inside
Faust and aiokafka is here, and only here; :func:`check` verifies each name at start-up
against the installed versions and fails with :class:`~streams.errors.FaustUnsupportedError`
naming what changed, instead of misbehaving later.

Private names used (faust-streaming 0.15, aiokafka 0.12-0.14):

- ``faust.transport.drivers.aiokafka.Producer._transaction_producers`` and
  ``._trn_locks``: the per-partition transactional producer Faust started at the last
  rebalance, and its lock. Faust offers no public getter; sending through its
  TransactionManager routes only topics the app consumes (faust-streaming#177, open), so
  outputs would go out of the transaction.
- ``aiokafka.AIOKafkaProducer._txn_manager.is_in_transaction()``: whether a transaction
  is open (Faust's begin at a rebalance can fail, logged and swallowed).
- ``aiokafka.AIOKafkaProducer._sender._retry_backoff``: set to 20 ms on the partition
  producers. A transaction's first produce often meets the previous commit's markers
  still being written; Kafka 4 answers NOT_ENOUGH_REPLICAS for that (transaction
  verification, KIP-890; aio-libs/aiokafka#1172, open) and aiokafka retries after its
  backoff, 100 ms by default: a tenth of a second on a live profile's freshness. Faust
  does not pass ``retry_backoff_ms`` to its producers.
- ``faust...aiokafka.Consumer._thread._consumer._fetcher._fetch_max_wait_ms``: set to
  100 ms. Faust hard-codes 1,500 ms (``_create_worker_consumer``), and aiokafka keeps one
  fetch request in flight per broker: while it long-polls the partitions that have no
  new records, the busy ones wait for it. Measured here at 5,000 events/s: records came
  in bursts every 1.5 s, and the freshness p50 was 1.5 s.
- ``faust...aiokafka.Consumer._thread._consumer._coordinator.request_rejoin()`` (in the
  consumer thread's loop, ``_thread.thread_loop``): ask the group for a new assignment.
  A static member (``--instance``) that rejoins with a new subscription (a new source
  topic after an upgrade) gets its old assignment back, without the new topic, and no
  rebalance happens (KAFKA-12759, open; Java's consumer notices and rejoins, aiokafka
  does not); a leader that rejoins forces one. See :func:`request_rejoin`.

Public extension points used, not private but load-bearing, so checked too:

- the ``ConsumerScheduler`` setting: :class:`BatchScheduler` hands Faust's conductor one
  message per fetched partition batch (its value is the list of aiokafka records),
  instead of one per record: Faust's per-message machinery (an event, a channel put,
  several asyncio tasks) then runs once per batch;
- topics declared with ``acks=False``: Faust never commits their offsets (no acked
  offsets, no commit gaps: faust-streaming#596/#606 cannot happen to them); the
  checkpoint commits them itself, in the partition's transaction;
- ``table_standby_replicas >= 1`` (Faust's default): Faust uses its co-partitioning
  assignor only then, or when the app has a Table (faust/transport/drivers/aiokafka.py,
  ``_create_worker_consumer``); the worker has none, so :func:`check` insists, and every
  assignment is checked to be co-partitioned (streams/partitions.py);
- the ``PartitionAssignor`` setting: :class:`BalancedAssignor`. With standby replicas
  above 0 Faust's assignor lets a member hold ``ceil(partitions / members)`` and keeps
  what members had, so a member joining can get nothing at all (4 partitions, one worker
  then three: 2, 2 and 0; faust-streaming#93, open; its fix, #97, balances only with no
  standbys). Standbys are for Tables, which the worker has none of, so this assignor
  places none, and then every member gets at least one partition (with at least as many
  partitions as members) and none more than ``ceil(partitions / members)``; the shares
  are not always even (faust-streaming#401: 12 over 5 can be 3, 3, 3, 2, 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from faust.assignor import PartitionAssignor

from streams.errors import FaustUnsupportedError

__all__ = [
    "BalancedAssignor",
    "BatchScheduler",
    "FetchedRecords",
    "PartitionProducers",
    "check",
    "request_rejoin",
    "shorten_fetch_wait",
    "tune",
]


def _versions() -> str:
    return f"faust-streaming {version('faust-streaming')}, aiokafka {version('aiokafka')}"


def _unsupported(what: str) -> FaustUnsupportedError:
    return FaustUnsupportedError(
        f"{what}: this release is not supported by streams/faust_door.py ({_versions()}; "
        "tested with faust-streaming 0.15.x and aiokafka 0.12-0.14)"
    )


def check(app: Any) -> None:
    """Fail now, naming it, if anything this module relies on is missing or changed."""
    from aiokafka.consumer.group_coordinator import GroupCoordinator  # noqa: PLC0415
    from aiokafka.producer.transaction_manager import TransactionManager  # noqa: PLC0415
    from faust.transport.consumer import Consumer  # noqa: PLC0415
    from faust.transport.drivers.aiokafka import Producer  # noqa: PLC0415

    for name in ("_transaction_producers", "_trn_locks"):
        if not isinstance(getattr(Producer, name, None), dict):
            raise _unsupported(f"faust's aiokafka Producer has no dict {name}")
    for name in ("begin_transaction", "stop_transaction"):
        if not callable(vars(Producer).get(name)):  # the driver's own, not the base stub
            raise _unsupported(f"faust's aiokafka Producer has no {name}()")
    if not callable(getattr(GroupCoordinator, "request_rejoin", None)):
        raise _unsupported("aiokafka's GroupCoordinator has no request_rejoin()")
    if not callable(getattr(TransactionManager, "is_in_transaction", None)):
        raise _unsupported("aiokafka's TransactionManager has no is_in_transaction()")
    if not callable(getattr(Consumer, "_to_message", None)):
        raise _unsupported("faust's Consumer builds no message with _to_message()")
    scheduler = app.conf.ConsumerScheduler
    if not (isinstance(scheduler, type) and issubclass(scheduler, BatchScheduler)):
        raise _unsupported("the app's ConsumerScheduler setting is not BatchScheduler")
    if app.conf.table_standby_replicas < 1:
        raise FaustUnsupportedError(
            "table_standby_replicas must stay >= 1: without a Table, Faust otherwise "
            "assigns partitions round-robin, which breaks co-partitioning"
        )
    if not isinstance(app.assignor, BalancedAssignor) or app.assignor.replicas != 0:
        raise _unsupported("the app's PartitionAssignor setting is not BalancedAssignor")


class BalancedAssignor(PartitionAssignor):
    """Faust's co-partitioning assignor with no standbys: no member is left idle.

    ``table_standby_replicas`` stays 1 (Faust's default) because only then does Faust's
    consumer use this assignor at all; the replicas it would place are dropped here.
    """

    def __init__(self, app: Any, replicas: int = 0) -> None:
        super().__init__(app, replicas=0)  # the worker has no Table: no standby to place


@dataclass(frozen=True, slots=True)
class FetchedRecords:
    """One partition's records of one fetch, dressed as the record Faust expects.

    Faust's ``Consumer._to_message`` reads these attributes of an aiokafka record; the
    message it builds carries the whole list as its value and the last offset as its
    offset, so Faust's read-offset bookkeeping still advances.
    """

    topic: str
    partition: int
    value: Sequence[Any]  # aiokafka ConsumerRecords, in offset order
    offset: int  # the last record's
    timestamp: int | None
    timestamp_type: int = 0
    key: None = None
    headers: tuple[()] = field(default=())
    checksum: None = None
    serialized_key_size: int = 0
    serialized_value_size: int = 0


class BatchScheduler:
    """Faust's ``ConsumerScheduler``: one item per fetched partition batch.

    ``chunk`` is the most records per item (a fetch can hold thousands for one
    partition; the agent takes at most so many items per batch, so chunks bound a
    batch's size). :meth:`with_chunk` makes the class Faust instantiates for another one.
    """

    chunk = 1000

    @classmethod
    def with_chunk(cls, chunk: int) -> type[BatchScheduler]:
        return type("BatchScheduler", (cls,), {"chunk": max(1, chunk)})

    def __init__(self) -> None:
        pass

    def iterate(self, records: Mapping[Any, list[Any]]) -> Iterator[tuple[Any, FetchedRecords]]:
        size = self.chunk
        for tp, batch in records.items():
            for start in range(0, len(batch), size):
                part = batch[start : start + size]
                last = part[-1]
                yield tp, FetchedRecords(tp.topic, tp.partition, part, last.offset, last.timestamp)


RETRY_BACKOFF_S = 0.02
FETCH_MAX_WAIT_MS = 100


def shorten_fetch_wait(app: Any) -> None:
    """Make Faust's consumer long-poll for at most 100 ms (see the module docstring)."""
    thread = getattr(app.consumer, "_thread", None)
    consumer = getattr(thread, "_consumer", None)
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not isinstance(getattr(fetcher, "_fetch_max_wait_ms", None), int):
        raise _unsupported("faust's consumer has no _thread._consumer._fetcher._fetch_max_wait_ms")
    fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS


def request_rejoin(app: Any, delay: float = 0.0) -> None:
    """Make Faust's consumer rejoin its group in ``delay`` seconds (a new assignment)."""
    thread = getattr(app.consumer, "_thread", None)
    coordinator = getattr(getattr(thread, "_consumer", None), "_coordinator", None)
    rejoin = getattr(coordinator, "request_rejoin", None)
    loop = getattr(thread, "thread_loop", None)
    if not callable(rejoin) or loop is None:
        raise _unsupported("faust's consumer has no _thread._consumer._coordinator.request_rejoin")
    loop.call_soon_threadsafe(loop.call_later, delay, rejoin)


def tune(txp: Any) -> None:
    """Shorten a partition producer's retry backoff (see the module docstring)."""
    sender = getattr(txp, "_sender", None)
    if sender is None or not isinstance(getattr(sender, "_retry_backoff", None), float):
        raise _unsupported("aiokafka's producer has no _sender._retry_backoff")
    sender._retry_backoff = RETRY_BACKOFF_S


class PartitionProducers:
    """The transactional producer Faust keeps for each input partition.

    Faust starts one per assigned partition at every rebalance (its transactional id
    ``<app id>-<topic group>-<partition>``; starting it fences the previous owner's) and
    stops it when the partition is revoked.

    Args:
        app: the Faust app (``exactly_once``).
        topic: an input topic (all input topics are one co-partitioned group).
    """

    def __init__(self, app: Any, topic: str) -> None:
        self.app = app
        self.topic = topic

    def transactional_id(self, partition: int) -> str:
        group = self.app.assignor.group_for_topic(self.topic)
        return f"{self.app.conf.id}-{group}-{partition}"

    def get(self, partition: int) -> tuple[Any, asyncio.Lock] | None:
        """The partition's producer and its lock, or None if Faust has none for it now."""
        producer = self.app.producer
        tid = self.transactional_id(partition)
        txp = producer._transaction_producers.get(tid)
        lock = producer._trn_locks.get(tid)
        return None if txp is None or lock is None else (txp, lock)

    def is_current(self, partition: int, txp: Any) -> bool:
        """``txp`` is still the partition's producer (not stopped or replaced meanwhile)."""
        found = self.get(partition)
        return found is not None and found[0] is txp

    async def renew(self, partition: int) -> None:
        """A producer started now for a partition just assigned (or lost and assigned
        again): starting it fences every earlier one, whoever holds it.

        Faust keeps a producer across rebalances when it misses the revocation (seen
        when a partition went to another worker and came back: Faust began a transaction
        on the old, fenced producer), so the worker does not rely on Faust's.
        """
        await self.stop(partition)
        await self.app.producer.begin_transaction(self.transactional_id(partition))
        found = self.get(partition)
        if found is not None:
            tune(found[0])

    async def stop(self, partition: int) -> None:
        """Stop the partition's producer, if any: the partition went to another worker."""
        if self.get(partition) is not None:
            await self.app.producer.stop_transaction(self.transactional_id(partition))

    async def forget(self, partition: int, txp: Any) -> None:
        """Stop ``txp``, fenced, if it is still the partition's producer (a rebalance may
        have given the partition back with a new producer meanwhile: that one stays).

        It stays in Faust's table of producers until the next rebalance takes it out
        (:meth:`renew`, :meth:`stop`, Faust's own; stopping again is a no-op): Faust's
        revocation iterates that table across awaits (its flush), and taking it out
        here, outside a rebalance, crashed a woken zombie with "dictionary changed size
        during iteration" (tests/faults/test_zombie_worker.py)."""
        if self.is_current(partition, txp):
            await txp.stop()

    @staticmethod
    async def open_transaction(txp: Any) -> None:
        """Begin a transaction unless one is open (Faust's begin at a rebalance may have
        failed, or a commit left none open)."""
        if not txp._txn_manager.is_in_transaction():
            await txp.begin_transaction()
