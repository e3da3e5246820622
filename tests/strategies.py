"""Hypothesis strategies that produce valid data for any (project) Avro schema."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from hypothesis import strategies as st

_PRIMITIVE = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=40),
    "string": st.text(max_size=30),
}


# The binary writer's edges (tests/property/schemas/test_binary_writer.py): lengths past
# 63 bytes, days and milliseconds before 1970, a UUID object. The events' ranges above.
_WIDE_PRIMITIVE = {**_PRIMITIVE, "bytes": st.binary(max_size=100), "string": st.text(max_size=100)}
_WIDE_LOGICAL = {
    "date": st.dates(),
    "timestamp-millis": st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 31)).map(
        lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000, tzinfo=dt.UTC)
    ),
    "uuid": st.uuids() | st.uuids().map(str),
}


def avro_values(
    schema: Any, names: dict[str, Any] | None = None, *, wide: bool = False
) -> st.SearchStrategy[Any]:
    """A strategy for values valid under ``schema`` (as fastavro accepts them); ``wide``:
    also the values at the binary writer's edges (see _WIDE_PRIMITIVE)."""
    names = {} if names is None else names
    if isinstance(schema, list):
        return st.one_of([avro_values(branch, names, wide=wide) for branch in schema])
    if isinstance(schema, str):
        if schema in _PRIMITIVE:
            return (_WIDE_PRIMITIVE if wide else _PRIMITIVE)[schema]
        return avro_values(names[schema], names, wide=wide)
    logical = schema.get("logicalType")
    if logical == "decimal":
        digits = schema["precision"] - schema["scale"]
        return st.decimals(
            min_value=-(10**digits) + 1, max_value=10**digits - 1, places=schema["scale"],
            allow_nan=False, allow_infinity=False,
        ).map(lambda d: d.quantize(decimal.Decimal(1).scaleb(-schema["scale"])))  # fmt: skip
    if wide and logical in _WIDE_LOGICAL:
        return _WIDE_LOGICAL[logical]
    if logical == "date":
        return st.dates(dt.date(1970, 1, 1), dt.date(2100, 12, 31))
    if logical == "timestamp-millis":
        return st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1)).map(
            lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000, tzinfo=dt.UTC)
        )
    if logical == "uuid":
        return st.uuids().map(str)
    kind = schema["type"]
    if kind == "record":
        names[schema["name"]] = schema
        return st.fixed_dictionaries(
            {f["name"]: avro_values(f["type"], names, wide=wide) for f in schema["fields"]}
        )
    if kind == "enum":
        names[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(avro_values(schema["items"], names, wide=wide), max_size=3)
    if kind == "map":
        return st.dictionaries(
            st.text(max_size=5), avro_values(schema["values"], names, wide=wide), max_size=3
        )
    return avro_values(kind, names, wide=wide)
