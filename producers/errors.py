"""Errors of the producers (drawn with the whole tree in base/errors.py).

A row that cannot become an event is not one of these: it is a reject (producers/rows.py).
"""

from __future__ import annotations

from base.errors import ZjcreditError

__all__ = ["PublishError"]


class PublishError(ZjcreditError):
    """Kafka could not be reached or did not acknowledge; the message says which."""
