"""The compiled writer's bytes pinned by hand, the values it refuses, the source it makes."""

from __future__ import annotations

import ast
import builtins
import datetime as dt
import decimal
import io
import re
import uuid
from typing import Any

import fastavro
import pytest

from schemas.binary import _RUNTIME, _generate, compile_writer
from schemas.registry import ManifestRegistry

D = decimal.Decimal

EVERYTHING = {
    "type": "record", "name": "cn.test.Everything",
    "fields": [
        {"name": "small", "type": "int"},
        {"name": "negative", "type": "long"},
        {"name": "big", "type": "long"},
        {"name": "flag", "type": "boolean"},
        {"name": "text", "type": "string"},
        {"name": "long_text", "type": "string"},
        {"name": "raw", "type": "bytes"},
        {"name": "ratio", "type": "double"},
        {"name": "grade", "type": {"type": "enum", "name": "Grade", "symbols": ["A", "B", "C"]}},
        {"name": "maybe_grade", "type": ["null", "Grade"]},
        {"name": "null_last", "type": ["string", "null"]},
        {"name": "counts", "type": {"type": "array", "items": "int"}},
        {"name": "many", "type": {"type": "array", "items": "int"}},
        {"name": "items", "type": {"type": "array", "items": {
            "type": "record", "name": "Item", "fields": [
                {"name": "name", "type": ["null", "string"]},
                {"name": "on", "type": ["null", {"type": "int", "logicalType": "date"}]}]}}},
        {"name": "child", "type": ["null", "cn.test.Everything"]},
        {"name": "born", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 18, "scale": 2}},
        {"name": "debt", "type": ["null", {"type": "bytes", "logicalType": "decimal",
                                           "precision": 18, "scale": 2}]},
    ],
}  # fmt: skip


def _everything(child: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "small": 63, "negative": -65, "big": 2**63 - 1, "flag": True, "text": "浙江",
        "long_text": "x" * 64, "raw": b"\x00\xff", "ratio": 0.5, "grade": "C",
        "maybe_grade": None, "null_last": "a", "counts": [], "many": list(range(64)),
        "items": [{"name": None, "on": dt.date(1969, 12, 31)}, {"name": "é", "on": None}],
        "child": child, "born": dt.date(1900, 1, 1),
        "at": dt.datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=dt.UTC),
        "id": uuid.UUID("0b7c4a52-5d1e-5f4a-8a6b-3f1c2d9e7a10"),
        "amount": D("-1.28"), "debt": D("0.00"),
    }  # fmt: skip


def _everything_hex(child: str) -> str:
    return "".join([
        "7e",                      # small 63: zig-zag 126, the last one-byte number
        "8101",                    # negative -65: zig-zag 129, two bytes
        "feffffffffffffffff01",    # big 2**63 - 1: ten bytes
        "01",                      # flag
        "0c" + "浙江".encode().hex(),  # 6 bytes of UTF-8, not 2 characters
        "8001" + "78" * 64,        # long_text: 64 bytes, a two-byte length
        "04" "00ff",               # raw
        "000000000000e03f",        # ratio 0.5, little-endian double
        "04",                      # grade C: index 2
        "00",                      # maybe_grade: the null branch (0)
        "00" "0261",               # null_last "a": branch 0 is the string
        "00",                      # counts []: just the end of the array
        "8001" + "".join(f"{2 * i:02x}" for i in range(64)) + "00",  # 64 items: two-byte count
        "04",                      # items: 2 records
        "00" "02" "01",            #   name null, on 1969-12-31 (day -1)
        "02" "04c3a9" "00",        #   name "é", on null
        "00",                      # end of items
        child,                     # child: [null, Everything]
        "bd8f03",                  # born 1900-01-01: day -25567
        "01",                      # at 1969-12-31T23:59:59.999Z: -1 ms
        "48" + b"0b7c4a52-5d1e-5f4a-8a6b-3f1c2d9e7a10".hex(),  # id: a UUID as its 36 chars
        "04" "ff80",               # amount -1.28: unscaled -128, two's complement
        "02" "02" "00",            # debt 0.00: one zero byte
    ])  # fmt: skip


def _fastavro(schema: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def test_every_construct_pinned_byte_for_byte() -> None:
    """The edges the fast paths branch on: 63/64, negative, 2**63 - 1, before 1970, a
    two-byte length and count, a null branch first and last, a record in itself."""
    record = _everything(_everything(None))
    expected = bytes.fromhex(_everything_hex("02" + _everything_hex("00")))
    assert compile_writer(EVERYTHING)(record) == expected
    assert _fastavro(EVERYTHING, record) == expected


@pytest.mark.parametrize(
    ("value", "hex_"),
    [(0, "00"), (-1, "01"), (1, "02"), (-64, "7f"), (64, "8001"), (8191, "fe7f"),
     (8192, "808001"), (-8193, "818001"), (-(2**63), "ffffffffffffffffff01"), (True, "02")],
)  # fmt: skip
def test_long_varints(value: int, hex_: str) -> None:
    schema = {"type": "record", "name": "L", "fields": [{"name": "n", "type": "long"}]}
    assert compile_writer(schema)({"n": value}).hex() == hex_
    assert _fastavro(schema, {"n": value}).hex() == hex_


def _one(kind: Any) -> dict[str, Any]:
    return {"type": "record", "name": "One", "fields": [{"name": "v", "type": kind}]}


_GRADE = {"type": "enum", "name": "Grade", "symbols": ["A", "B"]}
_DATE = {"type": "int", "logicalType": "date"}
_MILLIS = {"type": "long", "logicalType": "timestamp-millis"}
_UUID = {"type": "string", "logicalType": "uuid"}
_DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}


@pytest.mark.parametrize(
    ("kind", "value", "error"),
    [
        ("long", 2**63, OverflowError),
        ("long", -(2**63) - 1, OverflowError),
        ("int", "1", TypeError),
        ("int", None, TypeError),
        ("string", b"x", AttributeError),
        ("string", None, AttributeError),
        ("string", "\ud800", UnicodeEncodeError),
        ("bytes", "x", TypeError),
        ({"type": "array", "items": "int"}, None, TypeError),
        ({"type": "array", "items": "int"}, 1, TypeError),
        (_GRADE, "Z", KeyError),
        (["null", _GRADE], "Z", KeyError),
        (_MILLIS, dt.date(2020, 1, 1), TypeError),
        (_UUID, 5, AttributeError),
        (_DECIMAL, D("1.555"), ValueError),
        (_DECIMAL, D("NaN"), ValueError),
        (_DECIMAL, 1.5, TypeError),
        (_DECIMAL, "1.50", TypeError),
    ],
)
def test_what_fastavro_refuses_is_refused(kind: Any, value: Any, error: type[Exception]) -> None:
    """Each raises one of the classes the codec turns into EncodeError."""
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal at all
        _fastavro(_one(kind), {"v": value})
    with pytest.raises(error):
        compile_writer(_one(kind))({"v": value})


@pytest.mark.parametrize(
    ("kind", "value", "error"),
    [
        ("int", 1.5, TypeError),  # fastavro writes int(1.5)
        (_DATE, dt.datetime(2020, 1, 1), TypeError),  # fastavro drops the time
        (_DECIMAL, D("1.5"), ValueError),  # fastavro rescales to 1.50
        ("null", 0, ValueError),  # fastavro writes nothing
    ],
)
def test_stricter_than_fastavro(kind: Any, value: Any, error: type[Exception]) -> None:
    """Values fastavro bends into shape are our own callers' bugs: refused (as before)."""
    with pytest.raises(error):
        compile_writer(_one(kind))({"v": value})


def test_a_missing_field_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="'v'"):
        compile_writer(_one("int"))({})


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        (_one({"type": "map", "values": "int"}), "'map'"),
        (_one({"type": "fixed", "name": "F", "size": 2}), "'fixed'"),
        (_one(["null", "int", "string"]), r"\[null, X\]"),
        (_one(["int", "string"]), r"\[null, X\]"),
        (_one("Nowhere"), "unknown named type"),
        (_one({"type": "long", "logicalType": "timestamp-micros"}), "timestamp-micros"),
        ({"type": "record", "name": "a.R", "fields": [
            {"name": "x", "type": {"type": "enum", "name": "R", "symbols": ["A"]}}]},
         "two named types"),
    ],
)  # fmt: skip
def test_unsupported_constructs_are_not_implemented(schema: Any, fragment: str) -> None:
    """The codec falls back to fastavro for these (test_binary_writer.py shows it does)."""
    with pytest.raises(NotImplementedError, match=fragment):
        compile_writer(schema)


_HOSTILE_NAMES = ["a b", "x\nimport os", "'''", '__import__("os")', "out", "r", "f0", "_long",
                  "é", "\u2028", "#"]  # fmt: skip


def test_hostile_field_names_are_data_not_code() -> None:
    schema = {"type": "record", "name": "Odd",
              "fields": [{"name": n, "type": ["null", "int"]} for n in _HOSTILE_NAMES]}  # fmt: skip
    record = {n: i or None for i, n in enumerate(_HOSTILE_NAMES)}
    assert compile_writer(schema)(record) == _fastavro(schema, record)
    _assert_the_code_is_ours(schema)


@pytest.mark.parametrize("entry", ManifestRegistry.load().entries(), ids=lambda e: e.file)
def test_registered_schemas_make_only_our_code(entry: Any) -> None:
    _assert_the_code_is_ours(entry.schema)


_OURS = re.compile(r"_[gewq]\d+|[fx]\d+|_encode|out|r|b|n|u|d")
_ATTRIBUTES = {"append", "encode", "days", "seconds", "microseconds", "tzinfo", "toordinal",
               "same_quantum", "scaleb", "to_bytes", "bit_length", "__class__"}  # fmt: skip


def _assert_the_code_is_ours(schema: Any) -> None:
    """The source's identifiers are the generator's, the runtime's or builtins, and its
    one string literal is to_bytes' "big": no text from the schema is code (names appear
    in comments only, as repr())."""
    source, namespace = _generate(schema)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            assert _OURS.fullmatch(node.id) or node.id in _RUNTIME or hasattr(builtins, node.id)
        elif isinstance(node, ast.FunctionDef):
            assert _OURS.fullmatch(node.name), node.name
        elif isinstance(node, ast.Attribute):
            assert node.attr in _ATTRIBUTES, node.attr
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert node.value == "big", node.value
    assert all(_OURS.fullmatch(name) or name in _RUNTIME for name in namespace)
