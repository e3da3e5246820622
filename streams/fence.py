"""The rebalance fence: no transaction is in flight while Faust swaps the producers.

At a rebalance Faust stops the transactional producers of the revoked partitions
(``TransactionManager.on_rebalance``, inside ``on_partitions_assigned``) without taking
their locks, and aiokafka's ``commit_transaction`` on a stopped producer waits forever for
an end the stopped sender never brings. A checkpoint caught between its send and its
commit then hangs, and with it the agent and every partition of the worker (seen in the
1 -> 3 -> 1 workers test: a revocation during a batch left the worker folding nothing).

So the sending and committing of a batch happen inside the fence
(:meth:`RebalanceFence.sending`), and a revocation (``on_partitions_revoked``, before the
group is joined again) closes it: it waits for the batch inside to commit, and keeps the
next out until the new assignment is taken (:meth:`RebalanceFence.reopen`). A batch kept
out meanwhile checks its partitions are still its own once let in. The producers are
never stopped under a transaction, instead of the hang being noticed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

__all__ = ["RebalanceFence"]

log = logging.getLogger("zjcredit.worker")


class RebalanceFence:
    """Open between rebalances; closed from a revocation to the next assignment."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._inside = 0
        self._empty = asyncio.Event()
        self._empty.set()
        self.generation = 0  # how many times it was closed (a batch let in later knows)

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[int]:
        """Wait until the fence is open, then hold it open for one batch's transactions.

        Yields the generation the batch was let in at.
        """
        await self._open.wait()
        self._inside += 1
        self._empty.clear()
        try:
            yield self.generation
        finally:
            self._inside -= 1
            if self._inside == 0:
                self._empty.set()

    async def close(self, within: float) -> bool:
        """Keep new batches out, and wait up to ``within`` s for those inside to commit.

        False if some were still inside then (Kafka was unreachable for that long: the
        rebalance goes on, and their transactions end as Kafka decides).
        """
        self._open.clear()
        self.generation += 1
        try:
            await asyncio.wait_for(self._empty.wait(), within)
        except TimeoutError:
            log.error("a batch did not commit within %.0f s of a revocation: the rebalance "
                      "goes on without it (its transactions abort)", within)  # fmt: skip
            return False
        return True

    def reopen(self) -> None:
        """The new assignment is taken: batches may send again."""
        self._open.set()
