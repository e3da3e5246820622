"""A row parser written out for one header: the producer's per-row hot path.

:meth:`producers.rows.RowParser.parse` is general: for each cell it looks the column up by
name, dispatches on its kind, fills a dict of Nones, then derives the event id field by
field. Every row of a file has the same header, so for a header this module writes that
work out once as Python source and compiles it: the cells converted in header order into
locals, the event id as one f-string over the fields in sorted order, the event as one
dict display, then the same checks. Same events, ids and rejections, in the same order
(tests/property/producers/test_compiled_rows.py compares it with the general loop).

No text from the file reaches the source: cells are taken by position, fields named by
the schema (checked to be Avro names) and every other object is passed in by name.

Example::

    parse = compile_parser(plan)
    event = parse({"uscc": "91330100716105852F", ...}, now)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ParserPlan", "Slot", "compile_parser"]

Parse = Callable[[Mapping[str, Any], Any], dict[str, Any]]
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Slot:
    """What one cell of the header fills, and how.

    ``how``: ``text`` (a plain string field: trimmed, blank is None), ``symbol`` (looked up
    in ``symbols`` first, else converted) or ``convert`` (``convert(column, cell)``).
    ``convert`` gives exactly the general parser's value or rejection for any cell.
    """

    field: str
    how: str
    column: Any
    convert: Callable[[Any, Any], Any]
    symbols: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class ParserPlan:
    """Everything the compiled parser does, in the order the general parser does it.

    ``slots``: one per cell of the row, in its order (None: an ignored column);
    ``fields``: the schema's fields in order (the event's key order); ``id_fields``: those
    the event id covers, sorted; ``timestamps``: fields whose values are datetimes (in
    the id as epoch milliseconds); ``required``: the non-nullable fields, in order;
    ``helpers``: the objects the code calls (``department_of`` only when the parser
    sends for one department), ``convert_any`` the general conversion of a cell.
    """

    source: str
    slots: Sequence[Slot | None]
    fields: Sequence[str]
    id_fields: Sequence[str]
    timestamps: frozenset[str]
    required: Sequence[str]
    helpers: Mapping[str, Any]


def compile_parser(plan: ParserPlan) -> Parse:
    """``(row, now) -> event`` for rows whose keys are the plan's slots, in order."""
    for name in (plan.source, *plan.fields):
        if not _AVRO_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an Avro name")
    local = {name: f"f{i}" for i, name in enumerate(plan.fields)}
    namespace: dict[str, Any] = dict(plan.helpers)
    cells = [f"v{i}" for i in range(len(plan.slots))]
    lines = ["def parse(row, now):"]
    if cells:
        lines.append(f"    {', '.join(cells)}, = row.values()")
    lines.append(f"    {' = '.join(local.values())} = None")
    for i, slot in enumerate(plan.slots):
        if slot is None:
            continue
        namespace[f"C{i}"], namespace[f"K{i}"] = slot.column, slot.convert
        target, cell = local[slot.field], f"v{i}"
        lines.append(f'    if {cell} is not None and {cell} != "":')
        if slot.how == "text":
            lines.append(f"        {target} = ({cell}.strip() or None) if {cell}.__class__ is str "
                         f"else convert_any(C{i}, {cell})")  # fmt: skip
        elif slot.how == "symbol":
            namespace[f"S{i}"] = slot.symbols
            lines.append(f"        {target} = (S{i}.get({cell}) if {cell}.__class__ is str "
                         f"else None) or K{i}(C{i}, {cell})")  # fmt: skip
        else:
            lines.append(f"        {target} = K{i}(C{i}, {cell})")
    lines += _envelope(plan, local)
    namespace["SOURCE"] = plan.source
    exec(compile("\n".join(lines), f"<row parser: {plan.source}>", "exec"), namespace)  # noqa: S102 - our own source, see the module docstring
    parse: Parse = namespace["parse"]
    return parse


def _envelope(plan: ParserPlan, local: Mapping[str, str]) -> list[str]:
    """After the cells: the department, the defaults, the id, the required, the checks."""
    lines = []
    if "department_of" in plan.helpers:
        lines.append(f"    {local['department']} = department_of({local['department']})")
    reported, event_id = local["reported_at"], local["event_id"]
    lines += [f"    if {reported} is None:", f"        {reported} = now"]
    parts = []
    for name in plan.id_fields:
        value = local[name]
        shown = f"round({value}.timestamp() * 1000)" if name in plan.timestamps else value
        parts.append(f"{name}={{'' if {value} is None else {shown}}}")
    text = "\\x1f".join([plan.source, *parts])
    lines += [f"    if {event_id} is None:", f'        {event_id} = uuid5(f"{text}")']
    for name in plan.required:
        lines += [f"    if {local[name]} is None:",
                  f'        raise RowRejected("{name}", "missing_field", "required")']  # fmt: skip
    pairs = ", ".join(f'"{name}": {local[name]}' for name in plan.fields)
    lines += [
        f"    event = {{{pairs}}}",
        "    try:",
        "        validate_event(SOURCE, event, catalog, read_at=now)",
        "    except InvalidEvent as error:",
        '        raise RowRejected(error.field or "?", error.reason, str(error)) from error',
        "    return event",
    ]
    return lines
