"""Which input partitions to send Faust's consumer back to: the stall watch. Pure; no I/O.

After a restart Faust's consumer can skip records it fetched for a partition it had not
yet marked active (faust-streaming#596). The checkpoint fills such a hole as soon as a
later record of the partition arrives; with no later record, nothing reveals it. So the
worker asks the broker for each owned partition's end every few seconds, and a partition
that is behind its end and has not moved for ``stall_s`` seconds is read again from its
position.

While the worker is catching up (its batches come at least half full), partitions that
do not move are waiting their turn in Faust's buffers: a cold fold of a 20,000-firm
province sent 54 partitions back and fetched a fifth of its records twice. So nothing
counts as stalled until ``stall_s`` after the last such batch.

Example::

    watch = StallWatch(stall_s=4.0)
    watch.on_batch(records=9_800, batch_size=10_000, now=time.monotonic())
    for tp, position in watch.stalled(lag, now=time.monotonic()): ...  # seek tp there
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

__all__ = ["StallWatch"]

K = TypeVar("K", bound=Hashable)  # a partition: (topic, number) in the worker


class StallWatch(Generic[K]):
    """Tracks each partition's position while behind; says which ones stalled."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self._since: dict[K, tuple[int, float]] = {}  # tp -> (position, unmoved since)
        self._busy_until = 0.0

    def on_batch(self, records: int, batch_size: int, now: float) -> None:
        """A batch of ``records`` was taken (at most ``batch_size``)."""
        if records >= batch_size // 2:
            self._busy_until = now + self.stall_s

    def catching_up(self, now: float) -> bool:
        return now < self._busy_until

    def stalled(self, lag: Mapping[K, tuple[int | None, int]], now: float) -> list[tuple[K, int]]:
        """``(tp, position)`` of each partition behind its end (``lag``: tp -> (end, next
        offset to fold)) that has not moved for ``stall_s``; their clocks start again."""
        if self.catching_up(now):
            self._since.clear()
            return []
        found = []
        for tp, (high, position) in lag.items():
            if high is None or position >= high:
                self._since.pop(tp, None)
                continue
            seen, since = self._since.get(tp, (position, now))
            if seen != position:
                seen, since = position, now
            if now - since >= self.stall_s:
                found.append((tp, position))
                since = now
            self._since[tp] = (seen, since)
        return found
