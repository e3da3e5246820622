"""Errors of the producers (drawn with the whole tree in base/errors.py).

A row that cannot become an event is not one of these: it is a reject (producers/rows.py).
"""

from __future__ import annotations

from base.errors import ZjcreditError

__all__ = ["PublishError", "UnreadableFileError"]


class PublishError(ZjcreditError):
    """Kafka could not be reached or did not acknowledge; the message says which."""


class UnreadableFileError(ZjcreditError):
    """The file cannot be read as its format at all (not a workbook, no such sheet)."""
