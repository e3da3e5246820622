"""A compiled Avro binary writer for the project's schemas: the producers' and the
worker's hot path.

fastavro resolves every union value by trying its branches, which for an event with a
dozen nullable fields costs more than parsing the row. This module turns a schema, once,
into Python source and compiles it: one function per named record, its fields written
inline (no call per field), a ``[null, X]`` union as an ``if``, a count, length or
number under 8192 as one table lookup (no zig-zag loop), an array of records as a loop
calling the record's function, an enum as a dict lookup. The output is byte-for-byte
what fastavro writes (checked by a property test on every registered schema);
unsupported constructs raise ``NotImplementedError`` at compile time, and the codec then
falls back to fastavro.

No name from the schema is code: field names are the keys of an ``operator.itemgetter``
and enum symbols the keys of a dict, both in the namespace the source runs in, which
names them by number (``_g0``, ``_e1``); names appear only in comments, as ``repr()``.

Example::

    write = compile_writer(registry.latest("tax").schema)
    body = write(event)        # bytes, identical to fastavro.schemaless_writer's
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import linecache
import operator
import struct
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["compile_writer"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH_DATE.toordinal()
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_sources = itertools.count()  # a distinct file name per compiled schema, for tracebacks


def compile_writer(schema: Any) -> Callable[[Any], bytes]:
    """Compile ``schema`` (JSON form) into ``record -> Avro binary bytes``."""
    source, namespace = _generate(schema)
    filename = f"<avro writer {next(_sources)}>"
    # Tracebacks through the generated code show its lines (None: never invalidated).
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # The source is ours: built from fixed templates, numbers and repr()s (see _Generator).
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    encode: Callable[[Any], bytes] = namespace["_encode"]
    return encode


# What the generated code calls: the rare or long paths, kept out of its lines.


def _long(out: bytearray, n: int) -> None:
    """Zig-zag varint: small magnitudes become small unsigned numbers, 7 bits a byte.

    OverflowError beyond 64 bits, as fastavro (zig-zag takes exactly those to 2**64 and up).
    """
    n = (n << 1) ^ (n >> 63)
    if n >> 64:
        raise OverflowError("Avro long out of range (64-bit signed)")
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _varint(n: int) -> bytes:
    out = bytearray()
    _long(out, n)
    return bytes(out)


# The varint of every n in 0..8191 (one or two bytes): counts, lengths and years are
# one list index, no arithmetic. Bigger tables measured slower (cache misses).
_SMALL = 8192
_NUMBERS = [_varint(n) for n in range(_SMALL)]


def _days(value: Any) -> Any:
    """A date's days since 1970 (a number passes as it is); a datetime is refused."""
    return (value - _EPOCH_DATE).days if isinstance(value, dt.date) else value


def _millis(value: Any) -> Any:
    """A datetime's milliseconds since 1970 (naive: UTC); a number passes as it is."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - _EPOCH
        value = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return value


def _decimal(value: Any, scale: int) -> Any:
    """A Decimal of exactly ``scale`` places as its big-endian two's-complement unscaled
    value; bytes pass as they are. The generated code inlines the common case."""
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent != scale:
            raise ValueError("Scale provided in schema does not match the decimal")
        unscaled = int(value.scaleb(scale))
        value = unscaled.to_bytes((unscaled.bit_length() + 8) // 8 or 1, "big", signed=True)
    return value


def _not_null(value: Any) -> None:
    raise ValueError(f"{value!r} is not null")


_RUNTIME: dict[str, Any] = {
    "_long": _long,
    "_NUMBERS": _NUMBERS,
    "_days": _days,
    "_millis": _millis,
    "_decimal": _decimal,
    "_not_null": _not_null,
    "_date": dt.date,
    "_datetime": dt.datetime,
    "_EPOCH": _EPOCH,
    "_Decimal": decimal.Decimal,
    "_UUID": uuid.UUID,
    "_pack_float": struct.Struct("<f").pack,
    "_pack_double": struct.Struct("<d").pack,
}


def _generate(schema: Any) -> tuple[str, dict[str, Any]]:
    """The module source for ``schema`` and the namespace it runs in (``_encode`` is the
    entry point)."""
    generator = _Generator()
    generator.collect(schema)
    return generator.module(schema), generator.namespace


class _Generator:
    """Writes one schema's module: ``_w<i>(out, record)`` per named record, ``_encode``.

    The emitters append source lines for "write the value held by local ``v``"; ``v``
    is always a local name the generator made (``r``, ``f3``, ``x0``), so it may be
    read twice and assigned. Scratch locals (``b``, ``n``, ``u``, ``d``) are consumed by the
    next lines, never across an emitted sub-value.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = dict(_RUNTIME)
        self.named: dict[str, dict[str, Any]] = {}  # short name -> record or enum schema
        self.functions: dict[str, str] = {}  # record short name -> its function's name
        self.enums: dict[str, str] = {}  # enum short name -> its table's name
        self.quanta: dict[int, str] = {}  # decimal scale -> Decimal("1E-scale")'s name

    def constant(self, prefix: str, value: Any) -> str:
        """Put ``value`` in the namespace; the name the source uses for it."""
        name = f"_{prefix}{len(self.namespace) - len(_RUNTIME)}"
        self.namespace[name] = value
        return name

    def collect(self, schema: Any) -> None:
        """Find every named record and enum first: a field may name one defined in a
        record that is written later (or the record it is in)."""
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch)
            return
        if not isinstance(schema, dict):
            return
        kind = schema.get("type")
        if kind in ("record", "enum"):
            short = _short(schema["name"])
            if short in self.named:  # one short name in two namespaces: fastavro's job
                raise NotImplementedError(f"two named types called {short!r}")
            self.named[short] = schema
            if kind == "record":
                self.functions[short] = f"_w{len(self.functions)}"
                for field in schema["fields"]:
                    self.collect(field["type"])
        elif kind == "array":
            self.collect(schema["items"])

    def module(self, root: Any) -> str:
        lines: list[str] = []
        for short, function in self.functions.items():
            lines.append(f"def {function}(out, r):  # {short!r}")
            self.record_body(self.named[short], lines, "    ")
            lines.append("")
        lines += ["def _encode(r):", "    out = bytearray()"]
        if isinstance(root, dict) and root.get("type") == "record":
            self.record_body(root, lines, "    ")  # inlined: one call fewer per record
        else:
            self.emit(root, "r", lines, "    ", 0)
        lines += ["    return bytes(out)", ""]
        return "\n".join(lines)

    def record_body(self, schema: dict[str, Any], lines: list[str], ind: str) -> None:
        fields = schema["fields"]
        if not fields:
            lines.append(f"{ind}pass")
            return
        # One C call fetches every field (KeyError names a missing one), into locals.
        getter = self.constant("g", operator.itemgetter(*(f["name"] for f in fields)))
        targets = ", ".join(f"f{i}" for i in range(len(fields)))
        lines.append(f"{ind}{targets} = {getter}(r)")
        for i, field in enumerate(fields):
            lines.append(f"{ind}# {field['name']!r}")
            self.emit(field["type"], f"f{i}", lines, ind, 0)

    def emit(self, schema: Any, v: str, lines: list[str], ind: str, depth: int) -> None:  # noqa: PLR0911 - one per kind
        """Lines that write the value in local ``v`` as ``schema``."""
        if isinstance(schema, list):
            return self.union(schema, v, lines, ind, depth)
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return self.primitive(schema, v, lines, ind)
            named = self.named.get(_short(schema))
            if named is None:
                raise NotImplementedError(f"unknown named type {schema!r}")
            schema = named
        logical = schema.get("logicalType")
        if logical is not None:
            return self.logical(schema, logical, v, lines, ind)
        kind = schema["type"]
        if kind == "record":
            lines.append(f"{ind}{self.functions[_short(schema['name'])]}(out, {v})")
            return None
        if kind == "enum":
            return self.enum(schema, v, lines, ind)
        if kind == "array":
            return self.array(schema["items"], v, lines, ind, depth)
        if isinstance(kind, str) and kind in _PRIMITIVES:
            return self.primitive(kind, v, lines, ind)
        raise NotImplementedError(f"Avro type {kind!r}")

    def union(self, branches: list[Any], v: str, lines: list[str], ind: str, depth: int) -> None:
        if len(branches) != 2 or "null" not in branches:
            raise NotImplementedError("only [null, X] unions are compiled")
        null_index = branches.index("null")
        lines += [
            f"{ind}if {v} is None:",
            f"{ind}    out.append({null_index * 2})",
            f"{ind}else:",
            f"{ind}    out.append({(1 - null_index) * 2})",
        ]
        self.emit(branches[1 - null_index], v, lines, ind + "    ", depth)

    def primitive(self, kind: str, v: str, lines: list[str], ind: str) -> None:
        if kind in ("int", "long"):
            self.number(v, lines, ind)
        elif kind == "string":
            lines.append(f"{ind}b = {v}.encode()")
            self.length_and_bytes(lines, ind)
        elif kind == "bytes":
            lines.append(f"{ind}b = {v}")
            self.length_and_bytes(lines, ind)
        elif kind == "boolean":
            lines.append(f"{ind}out.append(1 if {v} else 0)")
        elif kind == "null":
            lines.append(f"{ind}if {v} is not None:")
            lines.append(f"{ind}    _not_null({v})")
        else:  # float, double
            lines.append(f"{ind}out += _pack_{kind}({v})")

    def number(self, v: str, lines: list[str], ind: str) -> None:
        # The comparison refuses what _long's shift would (a str, None) with TypeError,
        # the list index a float or a Decimal.
        lines += [
            f"{ind}if 0 <= {v} < {_SMALL}:",
            f"{ind}    out += _NUMBERS[{v}]",
            f"{ind}else:",
            f"{ind}    _long(out, {v})",
        ]

    def length_and_bytes(self, lines: list[str], ind: str) -> None:
        """Lines that write the bytes in local ``b``, length first."""
        lines += [
            f"{ind}n = len(b)",
            f"{ind}if n < {_SMALL}:",
            f"{ind}    out += _NUMBERS[n]",
            f"{ind}else:",
            f"{ind}    _long(out, n)",
            f"{ind}out += b",
        ]

    def enum(self, schema: dict[str, Any], v: str, lines: list[str], ind: str) -> None:
        short = _short(schema["name"])
        table = self.enums.get(short)
        if table is None:  # an unknown symbol is a KeyError
            index = {symbol: _varint(i) for i, symbol in enumerate(schema["symbols"])}
            table = self.enums[short] = self.constant("e", index)
        lines.append(f"{ind}out += {table}[{v}]")

    def array(self, items: Any, v: str, lines: list[str], ind: str, depth: int) -> None:
        item = f"x{depth}"
        lines += [
            f"{ind}n = len({v})",  # refuses None, as fastavro does
            f"{ind}if n:",
            f"{ind}    if n < {_SMALL}:",
            f"{ind}        out += _NUMBERS[n]",
            f"{ind}    else:",
            f"{ind}        _long(out, n)",
            f"{ind}    for {item} in {v}:",
        ]
        self.emit(items, item, lines, ind + "        ", depth + 1)
        lines.append(f"{ind}out.append(0)")

    def logical(
        self, schema: dict[str, Any], logical: str, v: str, lines: list[str], ind: str
    ) -> None:
        base = schema["type"]
        if logical == "date" and base == "int":
            lines += [
                f"{ind}if {v}.__class__ is _date:",
                f"{ind}    n = {v}.toordinal() - {_EPOCH_ORDINAL}",
                f"{ind}else:",
                f"{ind}    n = _days({v})",
            ]
            self.number("n", lines, ind)
        elif logical == "timestamp-millis" and base == "long":
            # An aware datetime inline (what _millis does for one), anything else there.
            lines += [
                f"{ind}if {v}.__class__ is _datetime and {v}.tzinfo is not None:",
                f"{ind}    d = {v} - _EPOCH",
                f"{ind}    n = d.days * 86_400_000 + d.seconds * 1000 + d.microseconds // 1000",
                f"{ind}else:",
                f"{ind}    n = _millis({v})",
            ]
            self.number("n", lines, ind)
        elif logical == "uuid" and base == "string":
            lines += [f"{ind}if isinstance({v}, _UUID):", f"{ind}    {v} = str({v})"]
            self.primitive("string", v, lines, ind)
        elif logical == "decimal" and base == "bytes":
            scale = int(schema.get("scale", 0))
            quantum = self.quanta.get(scale)
            if quantum is None:
                quantum = self.quanta[scale] = self.constant("q", decimal.Decimal(1).scaleb(-scale))
            # same_quantum: exactly ``scale`` places, what _decimal checks the slow way.
            lines += [
                f"{ind}if {v}.__class__ is _Decimal and {v}.same_quantum({quantum}):",
                f"{ind}    u = int({v}.scaleb({scale}))",
                f'{ind}    b = u.to_bytes((u.bit_length() + 8) >> 3, "big", signed=True)',
                f"{ind}else:",
                f"{ind}    b = _decimal({v}, {scale})",
            ]
            self.length_and_bytes(lines, ind)
        else:
            # A logical type (or a base) this writer does not know: fastavro converts such
            # values (a datetime for timestamp-micros) where writing the base type would fail
            # or differ, so the codec falls back to it for the whole schema.
            raise NotImplementedError(f"logical type {logical} on {base}")


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]
