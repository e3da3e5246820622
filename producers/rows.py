"""Turn one row of a department's file (CSV strings or JSON values) into a typed event.

Columns are the Avro field names of the source's schema, or the names departments use
for them (统一社会信用代码, 纳税信用级别, ...: schemas/headers.py); the parser for each
column is derived from the schema itself (string, int, boolean, enum, date, timestamp, decimal,
uuid), so a new optional field in a new schema version needs no code here.

Values a clerk's export really contains are accepted: blank = absent, lower-case enum
symbols, ``2017-04-20`` / ``2017/04/20`` / ``20170420`` dates, timestamps without a
zone (read as Beijing time, UTC+8), ``1,234.50`` amounts. Anything else is a
:class:`RowRejected` naming the field and the rule.

``event_id``, when the file has none, is a UUIDv5 of the source and the event's content
(all fields but ``event_id`` and ``reported_at``): sending the same file twice gives the
same ids, so the duplicates fold away downstream.

The rows of a file share one header, so :meth:`RowParser.parse` runs a parser compiled for
the row's keys (producers/compiled.py, with the fast converters at the end of this
module); :meth:`RowParser.parse_by_name` is the general loop it must agree with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from producers.compiled import ParserPlan, Slot, compile_parser
from schemas.errors import InvalidEvent
from schemas.events import validate_event
from schemas.headers import VALUE_ALIASES, field_for
from schemas.patent_no import normalize as normalize_patent_no
from schemas.registry import RegisteredSchema
from schemas.sectors import SectorCatalog
from schemas.uscc import normalize

__all__ = ["EVENT_ID_NAMESPACE", "RowParser", "RowRejected", "event_id_for"]

EVENT_ID_NAMESPACE = uuid.UUID("6f1c3d5e-8a0b-5c2e-9d47-3b2a1e0f9c88")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
_AMOUNT = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$|^-?\d+(\.\d+)?$")
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f"}
# A parser is compiled per key order (producers/compiled.py); the rows of a JSON Lines
# file whose objects vary their keys more than this go through the general loop.
_MAX_COMPILED = 64


@dataclass
class RowRejected(Exception):  # noqa: N818 - a verdict on a row, not a failure of ours
    """A row that cannot become an event: which field, which rule, and why."""

    field: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str  # string, int, boolean, enum, date, timestamp, decimal, uuid
    nullable: bool
    symbols: tuple[str, ...] = ()
    scale: int = 0
    symbol_of: Mapping[str, str] = dataclasses.field(default_factory=dict)  # "a" and "A" -> "A"

    def __post_init__(self) -> None:
        if self.symbols and not self.symbol_of:
            spellings = {s: s for s in self.symbols} | {s.lower(): s for s in self.symbols}
            object.__setattr__(self, "symbol_of", spellings)


def _columns(schema: Mapping[str, Any]) -> list[_Column]:
    columns = []
    for field in schema["fields"]:
        branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
        nullable = "null" in branches
        (avro,) = [b for b in branches if b != "null"]
        columns.append(_column(field["name"], avro, nullable, schema))
    return columns


def _column(name: str, avro: Any, nullable: bool, schema: Mapping[str, Any]) -> _Column:
    if isinstance(avro, str) and avro not in ("string", "int", "long", "boolean"):
        avro = _named(schema, avro)  # a reference to an enum defined earlier
    if isinstance(avro, dict):
        logical = avro.get("logicalType")
        if avro["type"] == "enum":
            return _Column(name, "enum", nullable, tuple(avro["symbols"]))
        if logical in ("date", "uuid"):
            return _Column(name, logical, nullable)
        if logical == "timestamp-millis":
            return _Column(name, "timestamp", nullable)
        if logical == "decimal":
            return _Column(name, "decimal", nullable, scale=int(avro["scale"]))
        avro = avro["type"]
    kind = {"string": "string", "int": "int", "long": "int", "boolean": "boolean"}[avro]
    return _Column(name, kind, nullable)


def _named(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    for field in schema["fields"]:
        for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
            if isinstance(branch, dict) and branch.get("name") == name:
                return branch
    raise KeyError(name)


class RowParser:
    """Parse rows of one source against its current schema and the catalog.

    Args:
        source: ``enterprise``, ``tax``, ``trademark``, ``blacklist`` or ``patent``.
        schema: the source's latest registered schema.
        catalog: the key-sector catalog (sectors and departments).
        department: when set, the one department every row is sent for (a row without
            one gets it; a row naming another is rejected as ``wrong_department``).
    """

    def __init__(self, source: str, schema: RegisteredSchema, catalog: SectorCatalog,
                 department: str | None = None) -> None:  # fmt: skip
        self.source = source
        self.department = department
        self.schema = schema
        self.catalog = catalog
        values = VALUE_ALIASES.get(source, {})
        self.columns = [
            dataclasses.replace(c, symbol_of={**c.symbol_of, **values[c.name]})
            if c.name in values else c
            for c in _columns(schema.schema)
        ]  # fmt: skip
        self.column_names = frozenset(c.name for c in self.columns)
        self._id_fields = sorted(self.column_names - {"event_id", "reported_at"})
        self._required = [c.name for c in self.columns if not c.nullable]
        self._by_name = {c.name: c for c in self.columns}
        self._names = [c.name for c in self.columns]
        # A column name that is not a field: its field by alias, or None (cached: the
        # same few header names come on every row).
        self._aliased: dict[str, _Column | None] = {}
        self._compiled: dict[tuple[str, ...], Callable[[Mapping[str, Any], dt.datetime],
                                                       dict[str, Any]]] = {}  # fmt: skip

    def column_for(self, name: str) -> _Column | None:
        """The column a file's column ``name`` fills: a field name or an alias of one."""
        column = self._by_name.get(name)
        if column is None:
            if name not in self._aliased:
                field = field_for(self.source, name)
                self._aliased[name] = self._by_name.get(field) if field else None
            column = self._aliased[name]
        return column

    def _department_of(self, given: Any) -> Any:
        # A sender that is one department (an HTTP ingest key) speaks for it alone: a row
        # without a department is its, a row naming another is refused.
        if given is None:
            return self.department
        if given != self.department:
            raise RowRejected(
                "department", "wrong_department",
                f"this key sends for {self.department}, not for {str(given)[:40]!r}",
            )  # fmt: skip
        return given

    def unknown_columns(self, header: list[str]) -> list[str]:
        """Columns of a file that no field of the schema reads (reported, then ignored)."""
        return [h for h in header if self.column_for(h) is None]

    def shared_columns(self, header: list[str]) -> dict[str, list[str]]:
        """Fields that more than one column of a file fills (``uscc`` and 统一社会信用代码):
        field -> those columns. Reported; in a row, the later non-blank value is used."""
        filling: dict[str, list[str]] = {}
        for name in header:
            column = self.column_for(name)
            if column is not None:
                filling.setdefault(column.name, []).append(name)
        return {field: names for field, names in filling.items() if len(names) > 1}

    def parse(self, row: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
        """Return the typed, validated event for ``row``, or raise RowRejected."""
        keys = tuple(row)
        parse = self._compiled.get(keys)
        if parse is None:
            if len(self._compiled) >= _MAX_COMPILED:
                return self.parse_by_name(row, now)
            parse = self._compiled[keys] = compile_parser(self._plan(keys))
        return parse(row, now)

    def _plan(self, keys: tuple[str, ...]) -> ParserPlan:
        helpers: dict[str, Any] = {
            "RowRejected": RowRejected, "InvalidEvent": InvalidEvent, "uuid5": _uuid5,
            "validate_event": validate_event, "catalog": self.catalog, "convert_any": _convert,
        }  # fmt: skip
        if self.department is not None:
            helpers["department_of"] = self._department_of
        return ParserPlan(
            source=self.source,
            slots=[_slot(column) if column else None for column in map(self.column_for, keys)],
            fields=self._names,
            id_fields=self._id_fields,
            timestamps=frozenset(c.name for c in self.columns if c.kind == "timestamp"),
            required=self._required,
            helpers=helpers,
        )

    def parse_by_name(self, row: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:  # noqa: PLR0912 - the per-row loop, kept in one frame
        """:meth:`parse` without compiling: each cell looked up by its column's name.

        The reference the compiled parsers are tested against, and the parser of rows
        whose keys vary more than a compiled parser per key order is worth.
        """
        event: dict[str, Any] = dict.fromkeys(self._names)
        by_name = self._by_name
        for name, raw in row.items():
            column = by_name.get(name)
            if column is None:  # not a field name: an alias of one, or an unknown column
                column = self.column_for(name)
                if column is None:
                    continue
                name = column.name  # noqa: PLW2901 - the alias's field
            if raw is None or raw == "":
                continue
            # Fast paths for the two commonest kinds; anything unusual (and every error
            # message) goes through _convert.
            if raw.__class__ is str:
                if column.kind == "string" and name not in _NORMALIZED:
                    event[name] = raw.strip() or None
                    continue
                symbol = column.symbol_of.get(raw)
                if symbol is not None:
                    event[name] = symbol
                    continue
            event[name] = _convert(column, raw)
        if self.department is not None:
            event["department"] = self._department_of(event["department"])
        if event["reported_at"] is None:
            event["reported_at"] = now
        if event["event_id"] is None:
            event["event_id"] = event_id_for(self.source, event, self._id_fields)
        for name in self._required:
            if event[name] is None:
                raise RowRejected(name, "missing_field", "required")
        try:
            validate_event(self.source, event, self.catalog, read_at=now)
        except InvalidEvent as error:
            raise RowRejected(error.field or "?", error.reason, str(error)) from error
        return event


def event_id_for(source: str, event: Mapping[str, Any], names: Sequence[str] | None = None) -> str:
    """UUIDv5 over the source and the event's content (not its id or report time).

    The content is every other field, by name in sorted order (``names``, if given, is
    that order precomputed), each as canonical text (timestamps in UTC), joined with a
    separator no value contains.
    """
    if names is None:
        names = sorted(k for k in event if k not in ("event_id", "reported_at"))
    parts = [source]
    for name in names:
        value = event[name]
        if value is None:
            parts.append(f"{name}=")
        elif isinstance(value, dt.datetime):
            parts.append(f"{name}={round(value.timestamp() * 1000)}")
        else:
            parts.append(f"{name}={value}")
    text = "\x1f".join(parts)
    return _uuid5(text)


def _uuid5(name: str) -> str:
    # str(uuid.uuid5(EVENT_ID_NAMESPACE, name)), written from the SHA-1's hex (this runs
    # once per row): the version digit is 5, the variant digit's top two bits are 10.
    h = hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).hexdigest()  # noqa: S324 - RFC 4122 v5 is SHA-1
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT = {f"{n:x}": f"{n & 0x3 | 0x8:x}" for n in range(16)}


def _convert(column: _Column, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return _CONVERTERS[column.kind](column, raw.strip() if raw.__class__ is str else raw)
    except RowRejected:
        raise
    except (ValueError, TypeError, ArithmeticError) as error:
        raise RowRejected(column.name, "bad_value", f"{raw!r}: {error}") from None


def _string(column: _Column, raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"expected text, got {type(raw).__name__}")
    normal = _NORMALIZED.get(column.name)
    return raw if normal is None else normal(raw)


@functools.lru_cache(maxsize=1 << 16)
def _normalized_code(raw: str) -> str:
    # Cached: an enterprise's code repeats on each of its rows.
    return normalize(raw)


def _normalized_patent_no(raw: str) -> str:
    # ZL2017 1 0601862.3 -> 201710601862.3; a text too long to be one is left for the
    # bounds check to refuse as too_long.
    return raw if len(raw) > 64 else normalize_patent_no(raw)


# Identifiers written in more than one way, turned into their normal form before checks.
_NORMALIZED: dict[str, Callable[[str], str]] = {
    "uscc": _normalized_code,
    "transferor_uscc": _normalized_code,
    "transferee_uscc": _normalized_code,
    "patent_no": _normalized_patent_no,
}


def _int(column: _Column, raw: Any) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise TypeError("expected a whole number")
    return int(raw)


def _boolean(column: _Column, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError("expected true/false (or 1/0, 是/否)")


def _enum(column: _Column, raw: Any) -> str:
    symbol = column.symbol_of.get(str(raw)) or str(raw).upper()  # a value alias, trimmed
    if symbol not in column.symbols:
        raise RowRejected(
            column.name, "bad_value", f"{raw!r} is not one of {', '.join(column.symbols)}"
        )
    return symbol


def _date(column: _Column, raw: Any) -> dt.date:
    text = str(raw)
    if len(text) == 10 and text[4] == "-":  # the common 2017-04-20, in C
        return dt.date.fromisoformat(text)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("expected a date like 2017-04-20")


def _timestamp(column: _Column, raw: Any) -> dt.datetime:
    text = str(raw)
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = dt.datetime.combine(_date(column, text), dt.time())
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)


def _decimal(column: _Column, raw: Any) -> decimal.Decimal:
    if isinstance(raw, bool):
        raise TypeError("expected an amount")
    text = str(raw)
    if not _AMOUNT.match(text):
        raise ValueError("expected an amount like 1234.50")
    value = decimal.Decimal(text.replace(",", ""))
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > column.scale:
        raise ValueError(f"more than {column.scale} decimal places")
    return value.quantize(decimal.Decimal(1).scaleb(-column.scale))


def _uuid(column: _Column, raw: Any) -> str:
    return str(uuid.UUID(str(raw)))


_CONVERTERS = {
    "string": _string,
    "int": _int,
    "boolean": _boolean,
    "enum": _enum,
    "date": _date,
    "timestamp": _timestamp,
    "decimal": _decimal,
    "uuid": _uuid,
}


# The compiled parsers' converters. Each takes the common spelling of its kind straight to
# the value _convert gives it, and hands any other cell (blank, another type, another
# format, an error) to _convert itself, so values, reasons and messages are _convert's.


def _fast_normalized(column: _Column, raw: Any) -> Any:
    if raw.__class__ is str:
        text = raw.strip()
        if not text:
            return None
        try:
            return _NORMALIZED[column.name](text)
        except (ValueError, TypeError, ArithmeticError):
            pass
    return _convert(column, raw)


def _fast_int(column: _Column, raw: Any) -> Any:
    if raw.__class__ is str:
        try:
            return int(raw.strip())
        except ValueError:
            pass
    return _convert(column, raw)


def _fast_boolean(column: _Column, raw: Any) -> Any:
    if raw.__class__ is str:
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return _convert(column, raw)


def _fast_date(column: _Column, raw: Any) -> Any:
    if raw.__class__ is str:
        text = raw.strip()
        if len(text) == 10 and text[4] == "-":
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
    return _convert(column, raw)


def _fast_timestamp(column: _Column, raw: Any) -> Any:
    if raw.__class__ is str:
        text = raw.strip()
        if text and "Z" not in text:  # _timestamp reads a Z as +00:00 first
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                return _convert(column, raw)
            return value if value.tzinfo else value.replace(tzinfo=BEIJING)
    return _convert(column, raw)


_QUANTUM = {scale: decimal.Decimal(1).scaleb(-scale) for scale in range(19)}


def _fast_decimal(column: _Column, raw: Any) -> Any:
    # Up to 24 characters, so no quantize can pass the context's 28 digits (an error of
    # _convert's); the places after the point are the Decimal's exponent, as the pattern
    # allows no other.
    if raw.__class__ is str and len(raw) <= 24 and column.scale in _QUANTUM:
        text = raw.strip()
        if _AMOUNT.match(text):
            dot = text.find(".")
            places = 0 if dot < 0 else len(text) - dot - 1
            if places <= column.scale:
                value = decimal.Decimal(text.replace(",", "") if "," in text else text)
                return value if places == column.scale else value.quantize(_QUANTUM[column.scale])
    return _convert(column, raw)


_FAST = {
    "int": _fast_int,
    "boolean": _fast_boolean,
    "date": _fast_date,
    "timestamp": _fast_timestamp,
    "decimal": _fast_decimal,
}


def _slot(column: _Column) -> Slot:
    """How a compiled parser fills ``column`` (the same choices as parse_by_name's loop)."""
    if column.kind == "string" and column.name not in _NORMALIZED:
        return Slot(column.name, "text", column, _convert)
    convert = _fast_normalized if column.kind == "string" else _FAST.get(column.kind, _convert)
    if column.symbol_of:
        return Slot(column.name, "symbol", column, convert, column.symbol_of)
    return Slot(column.name, "convert", column, convert)
