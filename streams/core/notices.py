"""Joint-penalty notices: the difference between two evaluations of a profile's listings.

- a listing that comes into force gives one ``IMPOSED`` notice with its sector's measures
  and the department that enforces each;
- a listing that leaves force (removed on any ground, or its planned end date reached)
  gives one ``LIFTED`` notice;
- going from fewer than two sectors in force to two or more gives one ``ESCALATED``
  notice naming every sector.

Every field of a notice comes from the facts, never from the moment it was computed, and
``notice_id`` is a UUID derived from what the notice is about: a replay, or the same
change seen by a sweep instead of an event, produces the same notice, which the sink
stores once. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.sectors import SectorCatalog
from streams.core.listings import Listing
from streams.core.state import ListingKey

__all__ = ["BEIJING", "diff_notices", "notice_id"]

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_NAMESPACE = uuid.UUID("6f1c3b6e-9a57-4d0e-8f7c-3c1d2a0b5e41")  # ours: penalty notices
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def notice_id(uscc: str, kind: str, *parts: str) -> str:
    """The deterministic id of a notice: UUIDv5 of what it is about."""
    return str(uuid.uuid5(_NAMESPACE, "|".join((uscc, kind, *parts))))


def _ms(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=value)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=BEIJING)


def _measures(catalog: SectorCatalog, sectors: Iterable[str]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for code in sectors:
        for m in catalog.sector(code).measures:
            seen.setdefault(
                (m.code, m.enforcing_department),
                {
                    "code": m.code,
                    "text_zh": m.text_zh,
                    "text_en": m.text_en,
                    "department": m.enforcing_department,
                },
            )
    return list(seen.values())


def _about(x: Listing) -> tuple[str, str, str]:
    return (x.sector, x.decision_no, x.listed_on.isoformat())


def _imposed(uscc: str, x: Listing, catalog: SectorCatalog) -> dict[str, Any]:
    name = catalog.sector(x.sector).name_zh
    return {
        "notice_id": notice_id(uscc, "IMPOSED", *_about(x)),
        "kind": "IMPOSED",
        "uscc": uscc,
        "sector": x.sector,
        "decision_no": x.decision_no,
        "listing_department": x.department,
        "listed_on": x.listed_on,
        "measures": _measures(catalog, [x.sector]),
        "sectors": [x.sector],
        "reason": f"listed on the {name} list ({x.sector}) by {x.department}, {x.decision_no}",
        "effective_at": _ms(x.occurred_ms),
        "source_event_id": x.event_id,
        "reported_at": _ms(x.reported_ms),
    }


def _lifted(uscc: str, x: Listing, catalog: SectorCatalog) -> dict[str, Any]:
    assert x.ended_on is not None
    assert x.ground is not None
    if x.ground == "PLANNED_END_REACHED":  # nobody reported it: it is due at that midnight
        effective = reported = _midnight(x.ended_on)
        source: str | None = None
    else:
        effective, reported, source = _ms(x.occurred_ms), _ms(x.reported_ms), x.event_id
    return {
        "notice_id": notice_id(uscc, "LIFTED", *_about(x)),
        "kind": "LIFTED",
        "uscc": uscc,
        "sector": x.sector,
        "decision_no": x.decision_no,
        "listing_department": x.department,
        "listed_on": x.listed_on,
        "measures": _measures(catalog, [x.sector]),
        "sectors": [x.sector],
        "reason": f"listing ended on {x.ended_on.isoformat()}: {x.ground}",
        "effective_at": effective,
        "source_event_id": source,
        "reported_at": reported,
    }


def _escalated(uscc: str, listed: list[Listing], catalog: SectorCatalog) -> dict[str, Any]:
    sectors = sorted({x.sector for x in listed})
    newest = max(listed, key=lambda x: (x.occurred_ms, x.event_id))
    keys = sorted("/".join(_about(x)) for x in listed)
    return {
        "notice_id": notice_id(uscc, "ESCALATED", *keys),
        "kind": "ESCALATED",
        "uscc": uscc,
        "sector": None,
        "decision_no": None,
        "listing_department": None,
        "listed_on": None,
        "measures": _measures(catalog, sectors),
        "sectors": sectors,
        "reason": f"listed in {len(sectors)} key sectors at once: {', '.join(sectors)}",
        "effective_at": _ms(newest.occurred_ms),
        "source_event_id": newest.event_id,
        "reported_at": _ms(max(x.reported_ms for x in listed)),
    }


def diff_notices(
    uscc: str,
    before: frozenset[ListingKey],
    listings: Mapping[ListingKey, Listing],
    catalog: SectorCatalog,
) -> list[dict[str, Any]]:
    """The notices for going from ``before`` (keys in force) to ``listings`` (evaluated now).

    Order: lifted, then imposed, then escalated, each by key, so it is stable.
    """
    after = frozenset(k for k, x in listings.items() if x.in_force)
    if after == before:
        return []
    out = [_lifted(uscc, listings[k], catalog) for k in sorted(before - after) if k in listings]
    out += [_imposed(uscc, listings[k], catalog) for k in sorted(after - before)]
    sectors_before = {k[0] for k in before}
    sectors_after = {k[0] for k in after}
    if len(sectors_after) >= 2 and len(sectors_before) < 2:
        out.append(_escalated(uscc, [listings[k] for k in sorted(after)], catalog))
    return out
