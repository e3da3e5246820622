"""Errors of the stream worker.

::

    ZjcreditError
    └── WorkerError                 the worker cannot go on as configured
        ├── FaustUnsupportedError        the installed Faust/aiokafka lack a private name the
        │                           worker relies on (streams/faust_door.py names which)
        ├── AssignmentError         the group handed out an assignment that is not
        │   │                       co-partitioned, or topics of the wrong shape
        │   └── StaleAssignmentError  one made before this worker's subscription (a
        │                           topic with no partition): the worker asks again
        ├── RulesError              streams/core/rules.json is malformed
        ├── StoreError              the local state store cannot be opened or used
        │   ├── StoreInUseError     another worker process has the store open
        │   ├── CorruptStoreError   a store read failed or a state did not decode: the
        │   │                       partition's store is wiped and rebuilt, the batch redone
        │   └── StateDecodeError    a stored state (store or changelog) is not one
        └── TransactionLost (*)     a partition's transaction was fenced or its producer
                                    stopped: the partition went to another worker

(*) ``TransactionLost`` is a state, not a fault: the checkpoint drops that partition's
work and its new owner redoes it (streams/checkpoint.py).
"""

from __future__ import annotations

from base.errors import ZjcreditError

__all__ = [
    "AssignmentError",
    "CorruptStoreError",
    "FaustUnsupportedError",
    "RulesError",
    "StaleAssignmentError",
    "StateDecodeError",
    "StoreError",
    "StoreInUseError",
    "TransactionLost",
    "WorkerError",
]


class WorkerError(ZjcreditError):
    """Root of the stream worker's errors."""


class FaustUnsupportedError(WorkerError):
    """A Faust or aiokafka internal the worker uses is missing or changed shape."""


class AssignmentError(WorkerError):
    """The consumer group's assignment breaks co-partitioning (one worker per enterprise)."""


class StaleAssignmentError(AssignmentError):
    """The group handed out an assignment made before this worker's subscription: some
    input topics have no partition at all (a static member that rejoins with a new topic
    gets its old assignment back, KAFKA-12759); the worker asks for a new one."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"the group's assignment has no partition of {', '.join(missing)}")
        self.missing = missing


class RulesError(WorkerError, ValueError):
    """``streams/core/rules.json`` is malformed; the message names the rule."""


class StoreError(WorkerError):
    """The local state store cannot be opened, read or written."""


class StoreInUseError(StoreError):
    """Another process holds the store's directory (RocksDB's lock)."""


class CorruptStoreError(StoreError):
    """A read of a partition's store failed or gave a state that does not decode."""

    def __init__(self, partition: int, why: str) -> None:
        super().__init__(f"partition {partition}: the state store is corrupt: {why}")
        self.partition = partition


class StateDecodeError(StoreError, ValueError):
    """A stored state is not one: wrong format byte, or a pickle that does not load."""


class TransactionLost(WorkerError):  # noqa: N818 - a state of a partition, not a fault
    """The partition's transaction is gone (fenced, or its producer stopped by a rebalance)."""

    def __init__(self, partition: int, why: str) -> None:
        super().__init__(f"partition {partition}: {why}")
        self.partition = partition
