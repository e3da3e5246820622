"""Errors of the sink (drawn with the whole tree in base/errors.py).

A record the sink cannot write is not one of these: it is a dead letter (sink/convert.py).
"""

from __future__ import annotations

from base.errors import ZjcreditError

__all__ = ["SinkError", "SinkRunningError"]


class SinkError(ZjcreditError):
    """The sink cannot go on as asked."""


class SinkRunningError(SinkError):
    """A sink holds the database's lock: a rebuild would race it."""
