"""Backward compatibility of Avro schemas: can a reader with the new schema read old data?

This follows the Avro specification's schema-resolution rules for the constructs the
project uses (records, enums, arrays, maps, unions, primitives with their promotions,
logical types). The manifest's test runs it on every ordered pair of versions of every
subject (every older version against every newer one), as the codec promises that data
written under any earlier version keeps decoding; the ``avro`` package's own checker is
its oracle in the tests.

Example::

    problems = backward_problems(new_schema, old_schema)   # [] when compatible
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["backward_problems"]

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_PROMOTIONS = {
    ("int", "long"),
    ("int", "float"),
    ("int", "double"),
    ("long", "float"),
    ("long", "double"),
    ("float", "double"),
    ("string", "bytes"),
    ("bytes", "string"),
}


def backward_problems(reader: Any, writer: Any) -> list[str]:
    """Why data written with ``writer`` cannot be read with ``reader`` (empty: it can)."""
    names: dict[str, dict[str, Any]] = {}
    _collect(reader, names, "r:")
    _collect(writer, names, "w:")
    problems: list[str] = []
    _check(reader, writer, names, "", problems)
    return problems


def _collect(schema: Any, names: dict[str, dict[str, Any]], side: str) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, names, side)
    elif isinstance(schema, dict):
        if schema["type"] in ("record", "enum", "fixed"):
            names[side + schema["name"]] = schema
        for field in schema.get("fields", []):
            _collect(field["type"], names, side)
        for key in ("items", "values"):
            if key in schema:
                _collect(schema[key], names, side)


def _resolve(schema: Any, names: Mapping[str, dict[str, Any]], side: str) -> Any:
    if isinstance(schema, str) and schema not in _PRIMITIVES:
        return names[side + schema.rsplit(".", 1)[-1]]
    return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    return schema if isinstance(schema, str) else str(schema["type"])


def _check(
    reader: Any, writer: Any, names: Mapping[str, dict[str, Any]], at: str, problems: list[str]
) -> None:
    reader, writer = _resolve(reader, names, "r:"), _resolve(writer, names, "w:")
    if isinstance(writer, list):
        for branch in writer:  # every value the writer may have written must be readable
            _check(reader, branch, names, at, problems)
        return
    if isinstance(reader, list):
        attempts = [_problems(branch, writer, names, at) for branch in reader]
        if all(attempts):
            # Name the real trouble: what the same-kind branch objected to, if there is one.
            same_kind = [
                a
                for b, a in zip(reader, attempts, strict=True)
                if _kind(_resolve(b, names, "r:")) == _kind(writer)
            ]
            problems.extend(
                same_kind[0]
                if same_kind
                else [f"{at or '<root>'}: no branch of the reader's union reads {_kind(writer)}"]
            )
        return
    rk, wk = _kind(reader), _kind(writer)
    if rk in _PRIMITIVES or wk in _PRIMITIVES:
        if rk != wk and (wk, rk) not in _PROMOTIONS:
            problems.append(f"{at or '<root>'}: {wk} cannot be read as {rk}")
        elif isinstance(reader, dict) and isinstance(writer, dict):
            _check_logical(reader, writer, at, problems)
        return
    if rk != wk:
        problems.append(f"{at or '<root>'}: {wk} cannot be read as {rk}")
    elif rk == "record":
        _check_record(reader, writer, names, at, problems)
    elif rk == "enum":
        _check_enum(reader, writer, at, problems)
    elif rk == "array":
        _check(reader["items"], writer["items"], names, f"{at}[]", problems)
    elif rk == "map":
        _check(reader["values"], writer["values"], names, f"{at}{{}}", problems)


def _check_enum(
    reader: dict[str, Any], writer: dict[str, Any], at: str, problems: list[str]
) -> None:
    missing = set(writer["symbols"]) - set(reader["symbols"])
    if missing and "default" not in reader:
        problems.append(
            f"{at}: enum {reader['name']} lost symbols {sorted(missing)} and has no default"
        )


def _check_record(
    reader: dict[str, Any],
    writer: dict[str, Any],
    names: Mapping[str, dict[str, Any]],
    at: str,
    problems: list[str],
) -> None:
    if reader["name"] != writer["name"] and writer["name"] not in reader.get("aliases", []):
        problems.append(f"{at or '<root>'}: record {writer['name']} read as {reader['name']}")
        return
    written = {f["name"]: f for f in writer["fields"]}
    for field in reader["fields"]:
        path = f"{at}.{field['name']}" if at else field["name"]
        source = written.get(field["name"]) or next(
            (written[a] for a in field.get("aliases", []) if a in written), None
        )
        if source is None:
            if "default" not in field:
                problems.append(f"{path}: new field without a default")
        else:
            _check(field["type"], source["type"], names, path, problems)


def _check_logical(
    reader: dict[str, Any], writer: dict[str, Any], at: str, problems: list[str]
) -> None:
    if reader.get("logicalType") != writer.get("logicalType"):
        problems.append(
            f"{at}: logical type {writer.get('logicalType')} became {reader.get('logicalType')}"
        )
    elif reader.get("logicalType") == "decimal" and (
        reader.get("scale", 0) != writer.get("scale", 0)
        or reader.get("precision") != writer.get("precision")
    ):
        problems.append(f"{at}: decimal precision/scale changed")


def _problems(reader: Any, writer: Any, names: Mapping[str, dict[str, Any]], at: str) -> list[str]:
    found: list[str] = []
    _check(reader, writer, names, at, found)
    return found
