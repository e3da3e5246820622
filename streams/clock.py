"""The worker's clock: the ``as_of`` date listings and scores are evaluated at.

Either the wall clock in Beijing (the default, for live operation) or a fixed date
(``--as-of`` / ``ZJCREDIT_AS_OF``), for tests and for replaying old data to get the
answers of that day. Events are folded at ``today()``; the expiry sweep runs at the date
carried by a tick message (streams/app.py), which the ticker reads from this clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["BEIJING", "Clock"]

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class Clock:
    fixed: dt.date | None = None

    def today(self) -> dt.date:
        """The date in Beijing now, or the fixed date."""
        return self.fixed or dt.datetime.now(BEIJING).date()

    def describe(self) -> str:
        return f"fixed at {self.fixed.isoformat()}" if self.fixed else "wall clock (Beijing)"
