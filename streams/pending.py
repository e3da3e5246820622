"""Table states sent in a transaction that has not committed yet. No Kafka, no Faust.

The worker sends an enterprise's new state to the Table's changelog inside the input
partition's transaction. Until that transaction commits, the state is *pending*: the
next batch must fold onto it (it is the newest), but the Table proper (what survives a
rebalance of a kept partition) must not hold it yet, because the transaction can still
be aborted (a rebalance stops its producer; a fenced producer loses it). If it were in
the Table, the events Kafka redelivers after the abort would fold to "no change" and
their outputs would never be sent again.

So states are staged per transaction, read through :meth:`PendingStates.get` before the
Table, promoted into the Table when their transaction commits, and discarded when it is
given up. A key always belongs to one transaction (its input partition's), so one
overlay dict is enough.

Example::

    pending = PendingStates(table.data)
    pending.stage("app-0-3", {b"913301...": state})
    pending.get(b"913301...")      # state (pending wins)
    pending.promote("app-0-3")      # the transaction committed: into the Table
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Generic, TypeVar

__all__ = ["PendingStates"]

V = TypeVar("V")


class PendingStates(Generic[V]):
    """States staged per transactional id over a committed ``table`` mapping."""

    def __init__(self, table: MutableMapping[bytes, V]) -> None:
        self.table = table
        self._overlay: dict[bytes, V] = {}
        self._keys: dict[str, set[bytes]] = {}

    def get(self, key: bytes) -> V | None:
        """The newest state of ``key``: pending first, else the committed Table's."""
        state = self._overlay.get(key)
        return state if state is not None else self.table.get(key)

    def stage(self, tid: str, states: Mapping[bytes, V]) -> None:
        """``states`` were sent in ``tid``'s open transaction."""
        if states:
            self._overlay.update(states)
            self._keys.setdefault(tid, set()).update(states)

    def promote(self, tid: str) -> int:
        """``tid``'s transaction committed: its states go into the Table. Returns how many."""
        keys = self._keys.pop(tid, ())
        for key in keys:
            self.table[key] = self._overlay.pop(key)
        return len(keys)

    def discard(self, tid: str) -> int:
        """``tid``'s transaction will not commit: forget its states. Returns how many."""
        keys = self._keys.pop(tid, ())
        for key in keys:
            del self._overlay[key]
        return len(keys)

    def discard_all(self) -> int:
        return sum(self.discard(tid) for tid in list(self._keys))

    def items(self) -> Iterator[tuple[bytes, V]]:
        """Every key's newest state (pending over committed)."""
        overlay = self._overlay
        yield from overlay.items()
        yield from ((k, v) for k, v in self.table.items() if k not in overlay)

    def __len__(self) -> int:
        return len(self._overlay)
