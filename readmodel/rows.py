"""Decoded records -> the read model's rows. Pure: no I/O.

One function per topic role: a profile becomes its ``enterprise`` row plus the rows of
its child tables (listings, measures in force, tax grades, trademarks); a notice its
``notice`` row and one ``notice_measure`` row per measure; an input event its ``event``
row. Column order follows ``readmodel/migrations/0001_read_model.sql``.

The whole profile is also kept as jsonb, in the canonical JSON of :func:`to_json`
(dates and times ISO 8601, decimals as strings), which is how tests compare the table
with the pure fold's output.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "CHANGES_CHANNEL",
    "ENTERPRISE",
    "EVENT",
    "LISTING",
    "NOTICE",
    "NOTICE_MEASURE",
    "PENALTY_MEASURE",
    "TAX_GRADE",
    "TRADEMARK",
    "ProfileRows",
    "event_row",
    "notice_rows",
    "profile_rows",
    "to_json",
]

CHANGES_CHANNEL = "zjcredit_changes"
"""The sink notifies it (empty payload) at the commit of a transaction that wrote rows of
the ``change`` table; the query service's live streams listen (query/changes.py)."""

# Columns in table order, for COPY.
ENTERPRISE = (
    "uscc",
    "name",
    "status",
    "city_code",
    "district_code",
    "industry_section",
    "size_class",
    "established_on",
    "zjtx_level",
    "tax_grade",
    "score",
    "grade",
    "credit_eligible",
    "credit_amount",
    "listed_sectors",
    "rules_version",
    "version",
    "as_of",
    "updated_at",
    "last_reported_at",
    "profile",
)
LISTING = (
    "uscc",
    "sector",
    "decision_no",
    "department",
    "listed_on",
    "planned_end_on",
    "reason",
    "in_force",
    "ended_on",
    "ground",
)
PENALTY_MEASURE = ("uscc", "sector", "decision_no", "measure_code", "measure", "department")
TAX_GRADE = ("uscc", "year", "grade", "score", "direct_judgement", "repaired")
TRADEMARK = (
    "uscc",
    "registration_no",
    "mark_name",
    "nice_class",
    "status",
    "valid_until",
    "well_known",
    "pledges",
    "pledged_amount",
)
NOTICE = (
    "notice_id",
    "kind",
    "uscc",
    "sector",
    "decision_no",
    "listing_department",
    "listed_on",
    "sectors",
    "reason",
    "effective_at",
    "reported_at",
    "source_event_id",
    "status",
    "lifted_at",
    "measures",
)
NOTICE_MEASURE = ("notice_id", "measure_code", "department")
EVENT = (
    "event_id",
    "source",
    "event_type",
    "uscc",
    "occurred_at",
    "reported_at",
    "payload",
    "topic",
    "partition",
    "offset",
)

Row = tuple[Any, ...]
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: Any) -> str:
    """The canonical JSON text of a decoded record: sorted keys, no spaces, UTF-8 text,
    ISO 8601 dates and UTC times (``Z``), decimals as strings. orjson, because the
    stdlib's ``json`` with a ``default`` hook cost about as much as decoding the Avro."""
    return orjson.dumps(value, default=_plain, option=_OPTIONS).decode()


@dataclass
class ProfileRows:
    """A profile's row and its children, to replace the enterprise's old ones together.

    ``upgrade``: the profile was written under an older schema version and lacks its
    newer fields; the read model's ``profile_v2`` derives them when the row is written
    (readmodel/migrations/0004_profile_v2.sql).
    """

    enterprise: Row
    listings: list[Row] = field(default_factory=list)
    measures: list[Row] = field(default_factory=list)
    tax_grades: list[Row] = field(default_factory=list)
    trademarks: list[Row] = field(default_factory=list)
    upgrade: bool = False


def profile_rows(p: Mapping[str, Any]) -> ProfileRows:
    uscc = p["uscc"]
    zjtx = p["zjtx"]
    line = p["credit_line"] or {}
    in_force = p["blacklist"]
    enterprise = (
        uscc,
        p["name"],
        p["status"],
        p["city_code"],
        p["district_code"],
        p["industry_section"],
        p["size_class"],
        p["established_on"],
        zjtx["level"] if zjtx and zjtx["active"] else None,
        p["tax_grade"],
        p["score"],
        p["grade"],
        line.get("eligible"),
        line.get("amount"),
        sorted({x["sector"] for x in in_force}),
        p["rules_version"],
        p["version"],
        p["as_of"],
        p["updated_at"],
        p["last_reported_at"],
        to_json(p),
    )
    rows = ProfileRows(enterprise)
    for x in in_force:
        rows.listings.append(
            (
                uscc,
                x["sector"],
                x["decision_no"],
                x["department"],
                x["listed_on"],
                x["planned_end_on"],
                x["reason"],
                True,
                None,
                None,
            )
        )
    for x in p["blacklist_history"]:
        rows.listings.append(
            (
                uscc,
                x["sector"],
                x["decision_no"],
                x["department"],
                x["listed_on"],
                None,
                None,
                False,
                x["ended_on"],
                x["ground"],
            )
        )
    rows.measures = [
        (uscc, m["sector"], m["decision_no"], m["measure_code"], m["measure"], m["department"])
        for m in p["penalties"]
    ]
    rows.tax_grades = [
        (uscc, g["year"], g["grade"], g["score"], g["direct_judgement"], g["repaired"])
        for g in p["tax_grades"]
    ]
    for t in p["trademarks"]:
        pledged = sum((x["secured_amount"] or 0 for x in t["pledges"]), decimal.Decimal("0.00"))
        rows.trademarks.append(
            (
                uscc,
                t["registration_no"],
                t["mark_name"],
                t["nice_class"],
                t["status"],
                t["valid_until"],
                t["well_known"],
                len(t["pledges"]),
                pledged,
            )
        )
    return rows


def notice_rows(n: Mapping[str, Any]) -> tuple[Row, list[Row]]:
    """The notice row (IMPOSED starts 'active', the others are 'final') and its measures."""
    status = "active" if n["kind"] == "IMPOSED" else "final"
    row = (
        n["notice_id"],
        n["kind"],
        n["uscc"],
        n["sector"],
        n["decision_no"],
        n["listing_department"],
        n.get("listed_on"),
        list(n["sectors"]),
        n["reason"],
        n["effective_at"],
        n["reported_at"],
        n["source_event_id"],
        status,
        None,
        to_json(n["measures"]),
    )
    measures = sorted({(n["notice_id"], m["code"], m["department"]) for m in n["measures"]})
    return row, measures


def event_row(source: str, e: Mapping[str, Any], topic: str, partition: int, offset: int) -> Row:
    return (
        str(e["event_id"]),
        source,
        e["event_type"],
        e["uscc"],
        e["occurred_at"],
        e["reported_at"],
        to_json(e),
        topic,
        partition,
        offset,
    )
