"""A value recomputed at most every ``ttl`` seconds: :class:`Recomputed`.

``/v1/stats`` counts the whole read model (every enterprise by grade, city, tax grade,
the listings in force, the measures): seconds of work at a million firms, which a
handful of callers could repeat until the pool is full. The service keeps the answer
and recomputes it at most every ``ttl`` seconds, one recomputation at a time; while one
runs, the others get the answer before it.

Example::

    stats = Recomputed(30.0)
    body = await stats.get(lambda: compute_stats(db))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Recomputed"]

T = TypeVar("T")


class Recomputed(Generic[T]):
    """The last value made by ``make``, made again once it is ``ttl`` seconds old.

    Args:
        ttl: seconds a value is served before the next call recomputes it.
        clock: seconds, monotonic (default ``time.monotonic``; tests pass their own).
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._value: T | None = None
        self._made_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._value is not None and self.clock() - self._made_at < self.ttl

    def age(self) -> float:
        """Seconds since the value was made (``inf`` before the first)."""
        return self.clock() - self._made_at if self._value is not None else float("inf")

    async def get(self, make: Callable[[], Awaitable[T]]) -> T:
        """The value; recomputed by ``make`` if it is older than ``ttl``. A failure of
        ``make`` is raised to its caller, and the next call tries again."""
        value = self._value
        if value is not None and (self._fresh() or self._lock.locked()):
            return value
        async with self._lock:
            value = self._value
            if value is None or not self._fresh():
                value = await make()
                self._value, self._made_at = value, self.clock()
        return value
