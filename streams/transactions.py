"""Send a partition's outputs inside that partition's Kafka transaction, all or nothing.

faust-streaming's ``exactly_once`` opens one transaction per input partition and commits
it together with that partition's consumed offsets. But it only routes a send into a
transaction when the destination topic is one it consumes: sends to our output topics
(profiles, penalties, deadletters) would go out *outside* any transaction
(faust-streaming/faust#177, open). And its commit takes each transaction's lock between
any two of our awaits, so outputs of one enterprise could be split across two
transactions.

So the worker sends through the partition's transactional producer itself, holding that
transaction's lock for the whole group of records: the Table changelog record, the
profile and the notices of an enterprise always commit together, with the offsets of the
events that made them or a later commit. This touches private attributes of faust's
aiokafka Producer (``_transaction_producers``, ``_trn_locks``) and of aiokafka's
producer (``_txn_manager``); :meth:`check`
fails at start-up, loudly, if a Faust upgrade moves them, and the crash test
(tests/integration/test_worker_crash.py) guards the behaviour.

The Table states sent with the records are staged in :class:`streams.pending.PendingStates`
under the same lock, and :meth:`TransactionalSender.install` hooks Faust's producer so
that they reach the Table only when their transaction commits, and are dropped when
Faust gives the transaction up (its producer stopped at a rebalance, or fenced).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import ProducerFenced

from streams.pending import PendingStates

__all__ = ["Delivery", "PartitionRevoked", "Record", "TransactionalSender"]

Record = tuple[str, bytes | None, bytes, int | None]
"""``(topic, key, value, partition or None for the key's hash)``."""


@dataclass(frozen=True)
class Delivery:
    """Records handed to one transaction, and the broker's answers to come."""

    partition: str  # the input partition, ``topic[n]``
    tid: str
    producer: Any
    futures: list[asyncio.Future[Any]]


class PartitionRevoked(Exception):  # noqa: N818 - a state, not a fault
    """The partition's transaction is gone (rebalanced away): its outputs must not be sent."""


class TransactionalSender:
    """Send groups of records in the transaction that owns an input partition."""

    def __init__(self, app: Any, pending: PendingStates[Any]) -> None:
        self.app = app
        self.pending = pending
        self.commits = 0  # transactions committed since start (tests read it)

    @property
    def _producer(self) -> Any:
        return self.app.consumer.transactions.producer

    def check(self) -> None:
        """Fail now if this Faust release does not have what :meth:`send` relies on."""
        producer = self._producer
        for name in ("_transaction_producers", "_trn_locks"):
            if not isinstance(getattr(producer, name, None), dict):
                raise RuntimeError(
                    f"faust's Producer has no {name}: this faust-streaming release is not "
                    "supported by streams/transactions.py (tested with 0.15.x)"
                )

    def install(self) -> None:
        """Hook Faust's producer: promote staged states on commit, drop them on stop.

        Faust's own ``commit_transactions`` (faust/transport/drivers/aiokafka.py), with
        the promotion added under the transaction's lock: nothing can be sent into the
        transaction between its commit and the promotion.
        """
        self.check()
        producer = self._producer
        stop_transaction = producer.stop_transaction
        pending = self.pending

        async def commit_transactions(
            tid_to_offset_map: Any, group_id: str, start_new_transaction: bool = True
        ) -> None:
            for tid, offsets in tid_to_offset_map.items():
                async with producer._trn_locks.get(tid) or asyncio.Lock():
                    txp = producer._transaction_producers.get(tid)
                    if txp is None:
                        # Stopped at a rebalance: the next owner's producer aborts the
                        # transaction, and its states are gone with it.
                        pending.discard(tid)
                        continue
                    if not txp._txn_manager.is_in_transaction():
                        # Faust's last commit at shutdown leaves no transaction open, and
                        # a commit after it raised IllegalOperation and hung the worker.
                        await txp.begin_transaction()
                    try:
                        await txp.send_offsets_to_transaction(offsets, group_id)
                        await txp.commit_transaction()
                    except ProducerFenced:
                        # The partition's next owner started its producer before our
                        # side of the rebalance stopped this one: its transaction is
                        # aborted, and the rebalance under way takes the partition.
                        pending.discard(tid)
                        continue
                    pending.promote(tid)
                    self.commits += 1
                    if start_new_transaction:
                        await txp.begin_transaction()

        async def stop(tid: str) -> None:
            pending.discard(tid)
            await stop_transaction(tid)

        producer.commit_transactions = commit_transactions
        producer.stop_transaction = stop

    def transactional_id(self, input_topic: str, partition: int) -> str:
        group = self.app.assignor.group_for_topic(input_topic)
        return f"{self.app.conf.id}-{group}-{partition}"

    async def send(
        self,
        input_topic: str,
        partition: int,
        records: Sequence[Record],
        states: Mapping[bytes, Any],
    ) -> Delivery | None:
        """Hand ``records`` to the transaction of ``input_topic[partition]``, all together.

        ``states`` (the Table states among the records) are staged as pending in the
        same step. Returns the delivery to :meth:`settle` (the transaction's commit waits
        for it anyway), or None for no records. Raises PartitionRevoked if this worker no
        longer owns the partition.
        """
        if not records:
            return None
        tid = self.transactional_id(input_topic, partition)
        producer = self._producer
        txp = producer._transaction_producers.get(tid)
        lock = producer._trn_locks.get(tid)
        if txp is None or lock is None:
            self.pending.discard(tid)
            raise PartitionRevoked(f"{input_topic}[{partition}]")
        async with lock:  # no commit of this transaction can split the group
            try:
                if not txp._txn_manager.is_in_transaction():
                    # Faust's commits at a rebalance do not start the next transaction,
                    # and its begin for a kept partition can come after our next batch.
                    await txp.begin_transaction()
                futures = [
                    await txp.send(topic, value, key=key, partition=part)
                    for topic, key, value, part in records
                ]
            except Exception as error:
                if self._revoked(tid, txp) or isinstance(error, ProducerFenced):
                    self.pending.discard(tid)
                    raise PartitionRevoked(f"{input_topic}[{partition}]") from None
                raise
            self.pending.stage(tid, states)
            return Delivery(f"{input_topic}[{partition}]", tid, txp, futures)

    async def settle(self, deliveries: Sequence[Delivery]) -> list[str]:
        """Wait for the broker's answers; return the partitions revoked meanwhile.

        A rebalance can stop (and the next owner fence) a transaction while its records
        are in flight: their failure is then no fault, the new owner redoes the work.
        Any other failure is raised.
        """
        answers = await asyncio.gather(
            *(asyncio.gather(*d.futures) for d in deliveries), return_exceptions=True
        )
        revoked = []
        for delivery, answer in zip(deliveries, answers, strict=True):
            if isinstance(answer, BaseException):
                fenced = isinstance(answer, ProducerFenced)
                if not (self._revoked(delivery.tid, delivery.producer) or fenced):
                    raise answer
                # Fenced while still registered here: the next owner's producer started
                # before our side of the rebalance stopped this one.
                self.pending.discard(delivery.tid)
                revoked.append(delivery.partition)
        return revoked

    def _revoked(self, tid: str, txp: Any) -> bool:
        """``txp`` is no longer ``tid``'s producer here: forget the transaction's states."""
        if self._producer._transaction_producers.get(tid) is txp:
            return False
        self.pending.discard(tid)
        return True
