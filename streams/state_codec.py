"""How a profile's state is stored in the worker's Table changelog: a restricted pickle.

Pickle because it is the fastest faithful encoding of the fold's state in Python (the
changelog is written once per enterprise per batch and read only on recovery);
*restricted* because the changelog is a Kafka topic, and unpickling arbitrary classes from
a topic would run whatever someone wrote there. Loading allows only the classes the state
is made of, and anything else is an error naming the class.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import pickle
from types import SimpleNamespace
from typing import Any

from faust.serializers import codecs

from streams.core.state import Profile

__all__ = ["CODEC_NAME", "StateCodec", "StateType", "dumps", "loads", "register"]

CODEC_NAME = "zjcredit-state"
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
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Profile:
    state = _Unpickler(io.BytesIO(data)).load()
    if not isinstance(state, Profile):
        raise pickle.UnpicklingError(f"expected a Profile, got {type(state).__name__}")
    return state


class StateCodec(codecs.Codec):
    """The Faust codec of the profile-state Table (values only; keys are raw bytes)."""

    def _dumps(self, obj: Any) -> bytes:
        return dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return loads(s)


def register() -> None:
    """Make ``value_serializer=CODEC_NAME`` available to Faust (idempotent)."""
    codecs.register(CODEC_NAME, StateCodec())


class StateType:
    """The Table's ``value_type``: how Faust learns the codec, and a no-op model.

    Faust takes a Table's serializer from ``value_type._options.serializer`` and passes
    each loaded changelog value through ``value_type.from_data``; the codec already
    returns a :class:`Profile`, so this hands it back unchanged.
    """

    _options = SimpleNamespace(serializer=CODEC_NAME)

    @classmethod
    def from_data(cls, data: Any, *, preferred_type: Any = None) -> Any:
        return data
