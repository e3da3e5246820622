"""The key-sector catalog: the shipped data against domain.md section 4, and the loader's checks."""

import copy
import json
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from schemas.errors import ContractError, UnknownSector
from schemas.owners import SOURCE_OWNERS
from schemas.sectors import CATEGORIES, DEFAULT_PATH, SectorCatalog, load_catalog

EXPECTED_SECTORS = {
    "court_defaulter",
    "major_tax_violation",
    "market_serious_illegal",
    "abnormal_operation",
    "wage_arrears",
    "production_safety",
    "food_drug",
    "environment",
    "product_quality",
    "government_procurement",
    "public_resource_trading",
}


@pytest.fixture
def catalog() -> SectorCatalog:
    return load_catalog()


@pytest.fixture
def raw() -> dict[str, Any]:
    """The shipped catalog as plain JSON, for tests to break a copy of."""
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_shipped_catalog_loads_once(catalog: SectorCatalog) -> None:
    assert catalog.version >= 1
    assert set(catalog.sectors) == EXPECTED_SECTORS
    assert load_catalog() is catalog
    assert load_catalog(DEFAULT_PATH) == catalog


def test_file_is_two_space_indented_utf8_with_one_change_line_per_version() -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    assert len(data["changes"]) == data["version"]
    assert any("10" in note and "2017" in note for note in data["notes"])


def test_codes_are_unique(raw: dict[str, Any]) -> None:
    for items in (raw["departments"], raw["sectors"]):
        codes = [item["code"] for item in items]
        assert len(codes) == len(set(codes))
    for sector in raw["sectors"]:
        codes = [m["code"] for m in sector["measures"]]
        assert len(codes) == len(set(codes)), sector["code"]


def test_every_sector_has_enough_measures_with_known_departments(catalog: SectorCatalog) -> None:
    for sector in catalog.sectors.values():
        assert 3 <= len(sector.measures) <= 10, sector.code
        assert sector.category in CATEGORIES
        assert sector.lead_department in sector.listing_departments
        for measure in sector.measures:
            assert measure.enforcing_department in catalog.departments, measure.code
            assert measure.text_zh
            assert measure.text_en


def test_every_department_lists_enforces_or_sends_something(catalog: SectorCatalog) -> None:
    used = {m.enforcing_department for s in catalog.sectors.values() for m in s.measures}
    used |= {d for s in catalog.sectors.values() for d in s.listing_departments}
    used |= {d for owners in SOURCE_OWNERS.values() if owners for d in owners}  # CNIPA: patents
    assert used == set(catalog.departments)


@pytest.mark.parametrize("code", ["market_serious_illegal", "major_tax_violation"])
def test_periods_domain_md_marks_unconfirmed_are_flagged(catalog: SectorCatalog, code: str) -> None:
    sector = catalog.sector(code)
    assert sector.default_period_months == 36
    assert sector.period_confirmed is False
    assert "default_period_months" in sector.unconfirmed
    assert sector.early_exit is True


def test_court_defaulters_have_no_fixed_default_period(catalog: SectorCatalog) -> None:
    court = catalog.sector("court_defaulter")
    assert court.default_period_months is None
    assert court.period_confirmed is True
    assert court.unconfirmed == frozenset()
    assert court.basis == ("发改财金〔2016〕141号",)
    assert court.notes is not None
    assert "2 years" in court.notes
    assert "high_consumption_ban" in {m.code for m in court.measures}


def test_memo_numbers_domain_md_lacks_are_null_and_flagged(catalog: SectorCatalog) -> None:
    for code in (
        "production_safety",
        "food_drug",
        "environment",
        "product_quality",
        "government_procurement",
        "public_resource_trading",
    ):
        sector = catalog.sector(code)
        assert sector.basis is None, code
        assert "basis" in sector.unconfirmed, code
    for sector in catalog.sectors.values():
        if sector.basis is None:
            assert "basis" in sector.unconfirmed, sector.code
        if sector.early_exit is None:
            assert "early_exit" in sector.unconfirmed, sector.code


def test_unknown_sector_names_the_valid_codes(catalog: SectorCatalog) -> None:
    with pytest.raises(UnknownSector) as caught:
        catalog.sector("nope")
    message = str(caught.value)
    assert "'nope'" in message
    assert all(code in message for code in EXPECTED_SECTORS)
    assert caught.value.reason == "unknown_sector"
    assert isinstance(caught.value, ContractError)
    assert isinstance(caught.value, ValueError)


def test_unknown_department_is_a_value_error(catalog: SectorCatalog) -> None:
    assert catalog.department("SAT").name_en.startswith("State Taxation Administration")
    with pytest.raises(ValueError, match=r"unknown department 'XX'.*MOF"):
        catalog.department("XX")
    with pytest.raises(ValueError, match="unknown department"):
        catalog.measures_for_department("XX")


def test_mof_checklist_has_the_procurement_ban_for_major_tax_violations(
    catalog: SectorCatalog,
) -> None:
    checklist = catalog.measures_for_department("MOF")
    pairs = {(sector.code, measure.code) for sector, measure in checklist}
    assert ("major_tax_violation", "no_government_procurement") in pairs
    assert all(m.enforcing_department == "MOF" for _, m in checklist)
    assert ("major_tax_violation", "tax_grade_d") in {
        (s.code, m.code) for s, m in catalog.measures_for_department("SAT")
    }


def test_catalog_is_read_only(catalog: SectorCatalog) -> None:
    sector = catalog.sector("major_tax_violation")
    with pytest.raises(FrozenInstanceError):
        sector.default_period_months = 12  # type: ignore[misc]
    with pytest.raises(TypeError):
        catalog.sectors["x"] = sector  # type: ignore[index]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets a dotted path (list indices as numbers) in the raw catalog."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _duplicate_sector(data: dict[str, Any]) -> None:
    data["sectors"].append(copy.deepcopy(data["sectors"][0]))


BROKEN = [
    pytest.param(
        _duplicate_sector, r"\$\.sectors\[11\]\.code: duplicate code 'court_defaulter'", id="dup"
    ),
    pytest.param(
        _set("departments.1.code", "SAT"),
        r"\$\.departments\[1\]\.code: duplicate code 'SAT'",
        id="dup-department",
    ),
    pytest.param(
        _set("sectors.1.measures.2.code", "tax_grade_d"),
        r"\$\.sectors\[1\]\.measures\[2\]\.code: duplicate code 'tax_grade_d'",
        id="dup-measure",
    ),
    pytest.param(
        _set("sectors.1.measures.0.enforcing_department", "XYZ"),
        r"\$\.sectors\[1\]\.measures\[0\]\.enforcing_department: unknown department 'XYZ'",
        id="unknown-enforcer",
    ),
    pytest.param(
        _set("sectors.0.listing_departments", ["SPC", "XYZ"]),
        r"\$\.sectors\[0\]\.listing_departments\[1\]: unknown department 'XYZ'",
        id="unknown-lister",
    ),
    pytest.param(
        _set("sectors.1.lead_department", "MOF"),
        r"\$\.sectors\[1\]\.lead_department: not among",
        id="lead-not-listing",
    ),
    pytest.param(
        _set("sectors.1.default_period_months", -12),
        r"\$\.sectors\[1\]\.default_period_months: must be positive or null, got -12",
        id="negative-period",
    ),
    pytest.param(
        _set("sectors.1.default_period_months", 0),
        r"default_period_months: must be positive",
        id="zero-period",
    ),
    pytest.param(
        _set("sectors.1.default_period_months", "36"),
        r"\$\.sectors\[1\]\.default_period_months: expected int or null, got '36'",
        id="period-as-string",
    ),
    pytest.param(
        _set("sectors.1.period_confirmed", True),
        r"\$\.sectors\[1\]\.period_confirmed: must be false",
        id="confirmed-yet-unconfirmed",
    ),
    pytest.param(
        _set("sectors.1.unconfirmed", ["default_period_months", "colour"]),
        r"\$\.sectors\[1\]\.unconfirmed\[1\]: 'colour' is not a sector field",
        id="unconfirmed-not-a-field",
    ),
    pytest.param(
        _set("sectors.2.category", "misc"),
        r"\$\.sectors\[2\]\.category: 'misc' is not one of",
        id="bad-category",
    ),
    pytest.param(
        _set("sectors.2.measures", []),
        r"\$\.sectors\[2\]\.measures: must not be empty",
        id="no-measures",
    ),
    pytest.param(
        _set("sectors.2.basis", []),
        r"\$\.sectors\[2\]\.basis: must not be empty",
        id="empty-basis",
    ),
    pytest.param(
        _set("sectors.3.code", "Abnormal"),
        r"\$\.sectors\[3\]\.code: 'Abnormal' does not match",
        id="bad-sector-code",
    ),
    pytest.param(
        _set("sectors.3.period", 12), r"\$\.sectors\[3\]\.period: unknown field", id="typo-field"
    ),
    pytest.param(
        lambda data: data["sectors"][3].pop("name_en"),
        r"\$\.sectors\[3\]: missing field 'name_en'",
        id="missing-field",
    ),
    pytest.param(
        _set("version", 3), r"\$\.changes: expected one line per version", id="version-no-change"
    ),
    pytest.param(
        _set("departments.0.name_zh", " "),
        r"\$\.departments\[0\]\.name_zh: must not be empty",
        id="blank-name",
    ),
]


@pytest.mark.parametrize(("mutate", "problem"), BROKEN)
def test_a_broken_catalog_names_the_first_problem(
    tmp_path: Path,
    raw: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    problem: str,
) -> None:
    mutate(raw)
    path = tmp_path / "sectors.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as caught:
        load_catalog(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_a_catalog_that_is_not_json_says_so(tmp_path: Path) -> None:
    path = tmp_path / "sectors.json"
    path.write_text('{"version": 1,', encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_catalog(path)
