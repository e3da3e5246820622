"""The key-sector catalog: which blacklists exist, who keeps them, what each department does.

The catalog is versioned data, ``schemas/catalog/sectors.json`` (its ``notes`` explain the
fields); this module loads it into frozen dataclasses and checks it on load. A value the
domain reference could not confirm is named in the sector's ``unconfirmed`` set, so a
caller can tell a fact from a best guess. A problem in the file raises ``ValueError`` with
the JSON path of the first problem; an unknown sector code raises
:class:`~schemas.errors.UnknownSector`.

Example::

    >>> catalog = load_catalog()
    >>> tax = catalog.sector("major_tax_violation")
    >>> tax.lead_department, tax.default_period_months, tax.period_confirmed
    ('SAT', 36, False)
    >>> [(s.code, m.code) for s, m in catalog.measures_for_department("MOF")][:2]
    [('court_defaulter', 'no_subsidies'), ('major_tax_violation', 'no_government_procurement')]
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from schemas.errors import UnknownSector

__all__ = [
    "CATEGORIES",
    "DEFAULT_PATH",
    "Department",
    "Measure",
    "Sector",
    "SectorCatalog",
    "load_catalog",
]

DEFAULT_PATH = Path(__file__).parent / "catalog" / "sectors.json"
CATEGORIES = ("health_and_life", "market_order", "refusing_decisions", "defence_duties")
"""The four kinds of serious dishonesty named by 国发〔2016〕33号."""

_DEPT_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
_SNAKE_CODE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Department:
    """A department that lists subjects or enforces a measure (``code`` like ``SAT``)."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Measure:
    """One joint-punishment measure and the department that applies it on a hit."""

    code: str
    text_zh: str
    text_en: str
    enforcing_department: str


@dataclass(frozen=True)
class Sector:
    """A key-sector blacklist. ``default_period_months`` is None for no fixed term (when
    ``period_confirmed``) or an unknown one (when not); ``early_exit`` None is unknown."""

    code: str
    name_zh: str
    name_en: str
    category: str
    listing_departments: tuple[str, ...]
    lead_department: str
    basis: tuple[str, ...] | None
    default_period_months: int | None
    period_confirmed: bool
    early_exit: bool | None
    early_exit_note: str | None
    measures: tuple[Measure, ...]
    unconfirmed: frozenset[str]
    notes: str | None = None


@dataclass(frozen=True)
class SectorCatalog:
    """The loaded catalog; mappings keep the file's order and are read-only."""

    version: int
    departments: Mapping[str, Department]
    sectors: Mapping[str, Sector]

    def sector(self, code: str) -> Sector:
        """The sector with this code; :class:`UnknownSector` names the valid codes."""
        try:
            return self.sectors[code]
        except KeyError:
            valid = ", ".join(self.sectors)
            raise UnknownSector(f"unknown sector {code!r}; valid codes: {valid}") from None

    def department(self, code: str) -> Department:
        """The department with this code; ``ValueError`` names the valid codes."""
        try:
            return self.departments[code]
        except KeyError:
            valid = ", ".join(self.departments)
            raise ValueError(f"unknown department {code!r}; valid codes: {valid}") from None

    def measures_for_department(self, dept_code: str) -> list[tuple[Sector, Measure]]:
        """Every (sector, measure) the department enforces, in catalog order: its checklist."""
        self.department(dept_code)
        return [
            (sector, measure)
            for sector in self.sectors.values()
            for measure in sector.measures
            if measure.enforcing_department == dept_code
        ]


def load_catalog(path: Path | None = None) -> SectorCatalog:
    """Load and check a catalog file; the shipped one (``DEFAULT_PATH``) is loaded once."""
    return _default_catalog() if path is None else _load(path)


@functools.cache
def _default_catalog() -> SectorCatalog:
    return _load(DEFAULT_PATH)


def _load(path: Path) -> SectorCatalog:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from None
    try:
        return _catalog(raw)
    except ValueError as error:  # every check below names the JSON path; add the file
        raise ValueError(f"{path}: {error}") from None


def _check(value: Any, where: str, kind: type, null: bool = False) -> Any:
    """``value`` is of JSON type ``kind`` (or null); strings and string lists are non-empty."""
    if value is None and null:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{where}: expected {kind.__name__}{' or null' * null}, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{where}: must not be empty")
    return value


def _spec(cls: type) -> dict[str, tuple[type, bool]]:
    """Each field's JSON type and nullability, read from the dataclass annotations."""
    kinds: dict[str, type] = {"str": str, "int": int, "bool": bool}
    spec = {}
    for f in fields(cls):
        base = str(f.type).removesuffix(" | None")
        spec[f.name] = (kinds.get(base, list), base != f.type)
    return spec


_SPECS: dict[type, dict[str, tuple[type, bool]]] = {
    cls: _spec(cls) for cls in (Department, Measure, Sector)
}


def _obj(value: Any, at: str, cls: type) -> dict[str, Any]:
    """An object with exactly ``cls``'s fields (``notes`` optional), each of the right type."""
    spec = _SPECS[cls]
    if not isinstance(value, dict):
        raise ValueError(f"{at}: expected an object")
    if missing := sorted(spec.keys() - value.keys() - {"notes"}):
        raise ValueError(f"{at}: missing field {missing[0]!r}")
    if extra := sorted(value.keys() - spec.keys()):
        raise ValueError(f"{at}.{extra[0]}: unknown field")
    for key, (kind, null) in spec.items():
        if _check(value.get(key), f"{at}.{key}", kind, null) and kind is list and key != "measures":
            for i, item in enumerate(value[key]):
                _check(item, f"{at}.{key}[{i}]", str)
    return value


def _objects(items: Any, at: str, cls: type, code: re.Pattern[str]) -> list[dict[str, Any]]:
    """A non-empty list of ``cls`` objects with unique codes matching ``code``."""
    if not _check(items, at, list):
        raise ValueError(f"{at}: must not be empty")
    seen: set[str] = set()
    for i, item in enumerate(items):
        value = _obj(item, f"{at}[{i}]", cls)["code"]
        if not code.fullmatch(value):
            raise ValueError(f"{at}[{i}].code: {value!r} does not match {code.pattern}")
        if value in seen:
            raise ValueError(f"{at}[{i}].code: duplicate code {value!r}")
        seen.add(value)
    return list(items)


def _sector(s: dict[str, Any], at: str, depts: Mapping[str, Department]) -> Sector:
    def known(code: str, where: str) -> None:
        if code not in depts:
            raise ValueError(f"{where}: unknown department {code!r} (known: {', '.join(depts)})")

    for key in ("listing_departments", "basis"):
        if s[key] == []:
            raise ValueError(f"{at}.{key}: must not be empty (basis may be null)")
    for i, code in enumerate(s["listing_departments"]):
        known(code, f"{at}.listing_departments[{i}]")
    known(s["lead_department"], f"{at}.lead_department")
    if s["lead_department"] not in s["listing_departments"]:
        raise ValueError(f"{at}.lead_department: not among the listing_departments")
    if s["category"] not in CATEGORIES:
        raise ValueError(f"{at}.category: {s['category']!r} is not one of {CATEGORIES}")
    if (period := s["default_period_months"]) is not None and period <= 0:
        raise ValueError(f"{at}.default_period_months: must be positive or null, got {period}")
    for i, name in enumerate(s["unconfirmed"]):
        if name not in _SPECS[Sector].keys() - {"code", "unconfirmed"}:
            raise ValueError(f"{at}.unconfirmed[{i}]: {name!r} is not a sector field")
    if s["period_confirmed"] == ("default_period_months" in s["unconfirmed"]):
        raise ValueError(
            f"{at}.period_confirmed: must be false just when the period is unconfirmed"
        )
    measures = _objects(s["measures"], f"{at}.measures", Measure, _SNAKE_CODE)
    for i, m in enumerate(measures):
        known(m["enforcing_department"], f"{at}.measures[{i}].enforcing_department")
    basis = s["basis"]
    return Sector(
        **{
            **s,
            "listing_departments": tuple(s["listing_departments"]),
            "basis": None if basis is None else tuple(basis),
            "measures": tuple(Measure(**m) for m in measures),
            "unconfirmed": frozenset(s["unconfirmed"]),
        }
    )


def _catalog(raw: Any) -> SectorCatalog:
    if not isinstance(raw, dict):
        raise ValueError("$: expected an object")
    if extra := sorted(raw.keys() - {"version", "changes", "notes", "departments", "sectors"}):
        raise ValueError(f"$.{extra[0]}: unknown field")
    version = _check(raw.get("version"), "$.version", int)
    if version < 1:
        raise ValueError(f"$.version: must be >= 1, got {version}")
    for key in ("changes", "notes"):
        for i, line in enumerate(_check(raw.get(key), f"$.{key}", list, key == "notes") or []):
            _check(line, f"$.{key}[{i}]", str)
    if len(raw["changes"]) != version:
        raise ValueError(f"$.changes: expected one line per version 1..{version}")
    departments = _objects(raw.get("departments"), "$.departments", Department, _DEPT_CODE)
    depts = {d["code"]: Department(**d) for d in departments}
    sectors = _objects(raw.get("sectors"), "$.sectors", Sector, _SNAKE_CODE)
    by_code = {s["code"]: _sector(s, f"$.sectors[{i}]", depts) for i, s in enumerate(sectors)}
    return SectorCatalog(version, MappingProxyType(depts), MappingProxyType(by_code))
