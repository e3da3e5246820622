"""The pure core of the stream processors: the fold, the scorecard, the credit line and
the joint-penalty rules. Nothing here imports faust, kafka or asyncpg, or does I/O; the
Faust agents and the tests (as the oracle) call the same functions.

Example::

    profile, notices = apply(Profile(uscc), SourceEvent("tax", event), as_of=today)
    record = render(profile, as_of=today)        # the published credit profile
"""

from streams.core.credit_line import CreditLine, credit_line
from streams.core.fold import SourceEvent, apply, fold, stamp_of, sweep
from streams.core.listings import in_force, next_due
from streams.core.render import render
from streams.core.rules import Rules, load_rules
from streams.core.scorecard import Scored, score
from streams.core.state import Profile

__all__ = [
    "CreditLine",
    "Profile",
    "Rules",
    "Scored",
    "SourceEvent",
    "apply",
    "credit_line",
    "fold",
    "in_force",
    "load_rules",
    "next_due",
    "render",
    "score",
    "stamp_of",
    "sweep",
]
