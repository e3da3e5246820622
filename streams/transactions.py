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
events that made them or a later commit. This touches two private attributes of
faust's aiokafka Producer (``_transaction_producers``, ``_trn_locks``); :meth:`check`
fails at start-up, loudly, if a Faust upgrade moves them, and the crash test
(tests/integration/test_worker_crash.py) guards the behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

__all__ = ["PartitionRevoked", "Record", "TransactionalSender"]

Record = tuple[str, bytes | None, bytes, int | None]
"""``(topic, key, value, partition or None for the key's hash)``."""


class PartitionRevoked(Exception):  # noqa: N818 - a state, not a fault
    """The partition's transaction is gone (rebalanced away): its outputs must not be sent."""


class TransactionalSender:
    """Send groups of records in the transaction that owns an input partition."""

    def __init__(self, app: Any) -> None:
        self.app = app

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

    def transactional_id(self, input_topic: str, partition: int) -> str:
        group = self.app.assignor.group_for_topic(input_topic)
        return f"{self.app.conf.id}-{group}-{partition}"

    async def send(
        self, input_topic: str, partition: int, records: Sequence[Record]
    ) -> list[asyncio.Future[Any]]:
        """Hand ``records`` to the transaction of ``input_topic[partition]``, all together.

        Returns the delivery futures: await them to learn the broker's answer (the
        transaction's commit waits for them anyway). Raises PartitionRevoked if this
        worker no longer owns the partition.
        """
        if not records:
            return []
        tid = self.transactional_id(input_topic, partition)
        producer = self._producer
        txp = producer._transaction_producers.get(tid)
        lock = producer._trn_locks.get(tid)
        if txp is None or lock is None:
            raise PartitionRevoked(f"{input_topic}[{partition}]")
        async with lock:  # no commit of this transaction can split the group
            return [
                await txp.send(topic, value, key=key, partition=part)
                for topic, key, value, part in records
            ]
