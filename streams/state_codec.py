"""How an enterprise's state is stored: in the state changelog topic and in the local store.

The same bytes go to both (the local store is a copy of the changelog that may lag it),
so rebuilding a store from the changelog copies bytes and decodes nothing. A value is a
5-byte header, then a restricted pickle of the :class:`~streams.core.state.Profile`:

- byte 0: the format (1);
- bytes 1-4: the state's next sweep date (:func:`streams.core.next_due`) as a big-endian
  proleptic ordinal, 0 for none: the store's sweep index is kept from the header alone.

Pickle because it is the fastest faithful encoding of the fold's state in Python (about
18 µs to write and 10 µs to read a 1 KiB state here); *restricted* because the changelog
is a Kafka topic, and unpickling arbitrary classes from a topic would run whatever someone
wrote there. Loading allows only the classes a state is made of; anything else is a
:class:`StateDecodeError` naming the class.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import pickle
import struct
from typing import Any

from streams.core import next_due
from streams.core.state import Profile
from streams.errors import StateDecodeError

__all__ = ["FORMAT", "due_of", "dumps", "loads"]

FORMAT = 1
_HEADER = struct.Struct(">BI")
_ALLOWED = {
    ("streams.core.state", "Profile"): Profile,
    ("datetime", "date"): dt.date,
    ("decimal", "Decimal"): decimal.Decimal,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "set"): set,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{module}.{name} is not part of a profile's state; refusing to load it"
            ) from None


def dumps(state: Profile) -> bytes:
    """The stored form of ``state``: header (format, next sweep date), then the pickle."""
    due = next_due(state)
    head = _HEADER.pack(FORMAT, due.toordinal() if due else 0)
    return head + pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def due_of(data: bytes) -> dt.date | None:
    """The next sweep date recorded in a stored state's header (no unpickling)."""
    if len(data) < _HEADER.size or data[0] != FORMAT:
        raise StateDecodeError(f"not a stored state of format {FORMAT} ({len(data)} bytes)")
    ordinal = _HEADER.unpack_from(data)[1]
    return dt.date.fromordinal(ordinal) if ordinal else None


def loads(data: bytes) -> Profile:
    """The state stored as ``data``; StateDecodeError if it is not one."""
    due_of(data)  # checks the header
    try:
        state = _Unpickler(io.BytesIO(memoryview(data)[_HEADER.size :])).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise StateDecodeError(f"a stored state does not load: {error}") from error
    if not isinstance(state, Profile):
        raise StateDecodeError(f"expected a Profile, got {type(state).__name__}")
    return state
