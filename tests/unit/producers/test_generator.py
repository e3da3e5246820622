"""The synthetic province: same seed same bytes, realistic spreads, bad rows exactly as logged.

Every expectation about a rejected row is checked against the real row parser
(:class:`producers.rows.RowParser` over :func:`producers.readers.read_rows`), not restated.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from producers.generator import (
    BAD_ROW_KINDS,
    COLUMNS,
    HORIZON,
    GenerationReport,
    generate,
    generate_command,
)
from producers.readers import read_rows
from producers.rows import RowParser, RowRejected
from schemas.events import SOURCES
from schemas.patent_no import validate as validate_patent_no
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog
from schemas.uscc import ZHEJIANG_CITIES, validate

FIRMS = 3000
# After the horizon (2018-06-30) and the last report of it: no reported_at is "from the future".
NOW = dt.datetime(2018, 8, 1, tzinfo=dt.UTC)
Row = dict[str, str]
Verdicts = dict[tuple[str, int], tuple[str, str] | None]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return generate(FIRMS, 7, tmp_path_factory.mktemp("province"))


@pytest.fixture(scope="module")
def rows(province: GenerationReport) -> dict[str, list[Row]]:
    out = {}
    for source, path in province.paths.items():
        with path.open(encoding="utf-8", newline="") as handle:
            out[source] = list(csv.DictReader(handle))
    return out


def parse_all(report: GenerationReport) -> Verdicts:
    """(file name, line) -> None if the row parses, else (reason, field), per the real parser."""
    registry, catalog = ManifestRegistry.load(), load_catalog()
    verdicts: Verdicts = {}
    for source, path in report.paths.items():
        parser = RowParser(source, registry.latest(source), catalog)
        for row in read_rows(path):
            verdict = None
            try:
                if row.fields is None:
                    raise RowRejected("(row)", row.problem_reason or "?", row.problem or "?")
                parser.parse(row.fields, NOW)
            except RowRejected as rejection:
                verdict = (rejection.reason, rejection.field)
            verdicts[(path.name, row.line)] = verdict
    return verdicts


def logged(report: GenerationReport) -> list[dict[str, Any]]:
    with report.bad_rows_path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def of(rows: list[Row], *kinds: str) -> list[Row]:
    return [r for r in rows if r["event_type"] in kinds]


def by_firm(rows: list[Row]) -> Iterator[list[Row]]:
    """Consecutive runs of one firm's rows (a firm's rows are written together)."""
    run: list[Row] = []
    for row in rows:
        if run and run[-1]["uscc"] != row["uscc"]:
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# -- determinism -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path, fmt: str) -> None:
    first = generate(300, 3, tmp_path / "a", bad_rows=0.05, fmt=fmt)
    again = generate(300, 3, tmp_path / "b", bad_rows=0.05, fmt=fmt)
    other = generate(300, 4, tmp_path / "c", bad_rows=0.05, fmt=fmt)
    for source in SOURCES:
        assert first.paths[source].name == f"{source}.{fmt}"
        assert first.paths[source].read_bytes() == again.paths[source].read_bytes()
        if source != "blacklist":  # too few listings in 300 firms to be sure they differ
            assert first.paths[source].read_bytes() != other.paths[source].read_bytes()
    assert first.bad_rows_path.read_bytes() == again.bad_rows_path.read_bytes()
    assert first.rows == again.rows
    assert first.bad_rows == again.bad_rows > 0


def test_bad_rows_are_extra_copies_so_the_good_rows_do_not_depend_on_the_fraction(
    tmp_path: Path,
) -> None:
    clean = generate(400, 5, tmp_path / "clean")
    dirty = generate(400, 5, tmp_path / "dirty", bad_rows=0.1)
    planted = {(e["file"], e["line"]) for e in logged(dirty)}
    for source in SOURCES:
        lines = dirty.paths[source].read_bytes().split(b"\n")
        kept = [
            line for n, line in enumerate(lines, start=1) if (f"{source}.csv", n) not in planted
        ]
        assert b"\n".join(kept) == clean.paths[source].read_bytes()


# -- every good row is a valid event -----------------------------------------------------


def test_every_row_parses_and_the_files_have_the_schema_columns(
    province: GenerationReport, rows: dict[str, list[Row]]
) -> None:
    verdicts = parse_all(province)
    assert [key for key, verdict in verdicts.items() if verdict is not None] == []
    for source in SOURCES:
        with province.paths[source].open(encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n").split(",")
        assert tuple(header) == COLUMNS[source]
        assert "event_id" not in header
        assert {"uscc", "department", "occurred_at", "reported_at", "event_type"} <= set(header)
        assert province.rows[source] == len(rows[source]) > 0
    assert province.bad_rows == 0
    assert province.bad_rows_path.read_text(encoding="utf-8") == ""
    assert province.enterprises == FIRMS
    assert province.seed == 7
    assert province.format == "csv"


def test_rows_of_a_firm_are_together_and_in_time_order(rows: dict[str, list[Row]]) -> None:
    for source in SOURCES:
        # A transfer's TRANSFERRED_IN row is written with its transferor's rows.
        runs = list(by_firm([r for r in rows[source] if r["event_type"] != "TRANSFERRED_IN"]))
        assert len({run[0]["uscc"] for run in runs}) == len(runs)  # one run per firm
        for run in runs:
            times = [stamp(r["occurred_at"]) for r in run]
            assert times == sorted(times)
        for row in rows[source]:
            delay = stamp(row["reported_at"]) - stamp(row["occurred_at"])
            assert dt.timedelta(minutes=5) <= delay <= dt.timedelta(days=10)
            assert stamp(row["occurred_at"]).date() <= HORIZON


# -- the enterprises ----------------------------------------------------------------------


def test_codes_are_valid_unique_and_zhejiang(rows: dict[str, list[Row]]) -> None:
    registered = of(rows["enterprise"], "REGISTERED")
    assert len(registered) == FIRMS
    assert len({r["uscc"] for r in registered}) == FIRMS
    types = collections.Counter(r["uscc"][:2] for r in registered)
    assert set(types) == {"91", "92", "93"}
    assert types["91"] > 0.9 * FIRMS
    assert any(r["uscc"][8:10] == "MA" for r in registered)
    for row in registered:
        code = validate(row["uscc"])
        assert code.city_code == row["city_code"]
        assert row["district_code"][:4] == row["city_code"][:4]
        assert code.division in (row["district_code"], row["city_code"])


def test_all_eleven_cities_with_hangzhou_and_ningbo_largest(rows: dict[str, list[Row]]) -> None:
    cities = collections.Counter(r["city_code"] for r in of(rows["enterprise"], "REGISTERED"))
    assert set(cities) == set(ZHEJIANG_CITIES)
    assert [c for c, _ in cities.most_common(2)] == ["330100", "330200"]
    assert max(cities["330900"], cities["331100"]) < cities["330300"] / 3


def test_size_mix_is_micro_and_small(rows: dict[str, list[Row]]) -> None:
    sizes = collections.Counter(r["size_class"] for r in of(rows["enterprise"], "REGISTERED"))
    assert (sizes["MICRO"] + sizes["SMALL"]) / FIRMS > 0.86
    assert sizes.most_common(1)[0][0] == "MICRO"
    assert 0 < sizes["LARGE"] < 0.06 * FIRMS


def test_names_industries_and_dates_are_plausible(rows: dict[str, list[Row]]) -> None:
    registered = of(rows["enterprise"], "REGISTERED")
    suffixes = ("有限公司", "专业合作社", "商行", "经营部", "店")
    assert all(r["name"].endswith(suffixes) for r in registered)
    assert any(r["name"].endswith("股份有限公司") for r in registered)
    sections = collections.Counter(r["industry_section"] for r in registered)
    assert [s for s, _ in sections.most_common(2)] in (["C", "F"], ["F", "C"])
    assert all(re.fullmatch(r"[A-T]\d{4}", r["industry_code"]) for r in registered)
    assert all(r["industry_code"][0] == r["industry_section"] for r in registered)
    years = collections.Counter(int(r["established_on"][:4]) for r in registered)
    assert min(years) >= 1990
    assert max(years) <= 2017
    assert years[2016] > years[2006] > years[1996]  # skewed recent
    assert all(r["occurred_at"][:10] == r["established_on"] for r in registered)


def test_changes_deregistrations_and_zjtx_at_their_rates(rows: dict[str, list[Row]]) -> None:
    events = collections.Counter(r["event_type"] for r in rows["enterprise"])
    assert 0.03 * FIRMS < events["CHANGED"] < 0.07 * FIRMS
    assert 0.003 * FIRMS < events["DEREGISTERED"] < 0.02 * FIRMS
    granted = of(rows["enterprise"], "ZJTX_GRANTED")
    assert 0.001 * FIRMS <= len(granted) <= 0.008 * FIRMS  # a few hundred per 100k
    assert {r["zjtx_level"] for r in granted} <= {"PROVINCIAL", "NATIONAL"}
    assert all(2012 <= int(r["zjtx_year"]) <= 2017 for r in granted)


# -- tax ----------------------------------------------------------------------------------


def test_grade_spread_mostly_b_with_a_and_m_and_few_c_d(rows: dict[str, list[Row]]) -> None:
    grades = of(rows["tax"], "GRADE_ASSESSED")
    spread = collections.Counter(r["grade"] for r in grades)
    share = {g: spread[g] / len(grades) for g in "ABMCD"}
    assert share["B"] > 0.6
    assert 0.03 < share["A"] < 0.25
    assert share["M"] > 0.01
    assert share["C"] + share["D"] < 0.12
    assert share["D"] > 0
    assert {r["tax_year"] for r in grades if r["grade"] == "M"} == {"2017"}  # M exists from 2018


def test_scores_sit_in_their_grade_bands_and_the_a_bars_hold(rows: dict[str, list[Row]]) -> None:
    bands = {"A": (90, 100), "B": (70, 90), "M": (70, 100), "C": (40, 70), "D": (0, 40)}
    established = {r["uscc"]: r["established_on"] for r in of(rows["enterprise"], "REGISTERED")}
    for row in of(rows["tax"], "GRADE_ASSESSED"):
        if row["grade"] == "D" and row["direct_judgement"] == "true":
            assert row["score"] == ""  # judged directly, not scored
            continue
        low, high = bands[row["grade"]]
        score = float(row["score"])
        assert low <= score <= high
        assert score < high or high == 100
        if row["grade"] == "A":
            assert int(row["tax_year"]) - int(established[row["uscc"]][:4]) >= 3
    assert any(r["direct_judgement"] == "true" for r in rows["tax"])
    repaired = of(rows["tax"], "GRADE_REPAIRED")
    assert repaired
    assert all(r["grade"] != "A" and r["previous_grade"] in "CD" for r in repaired)


def test_tax_paid_by_size_and_some_arrears(rows: dict[str, list[Row]]) -> None:
    size = {r["uscc"]: r["size_class"] for r in of(rows["enterprise"], "REGISTERED")}
    paid: dict[str, list[float]] = collections.defaultdict(list)
    for row in of(rows["tax"], "TAX_PAID"):
        paid[size[row["uscc"]]].append(float(row["amount"]))

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    assert median(paid["MICRO"]) < median(paid["SMALL"]) < median(paid["MEDIUM"])
    arrears = {r["uscc"] for r in of(rows["tax"], "ARREARS_SNAPSHOT")}
    assert 0.01 * FIRMS < len(arrears) < 0.06 * FIRMS


# -- blacklists ---------------------------------------------------------------------------


def test_listings_rates_removals_and_decision_numbers(rows: dict[str, list[Row]]) -> None:
    catalog = load_catalog()
    listed = of(rows["blacklist"], "LISTED")
    removed = of(rows["blacklist"], "REMOVED")
    firms = {r["uscc"] for r in listed}
    assert 0.01 * FIRMS <= len(firms) <= 0.03 * FIRMS
    assert 0.15 < len(removed) / len(listed) < 0.5
    assert len({r["decision_no"] for r in listed}) == len(listed)
    sectors = collections.Counter(r["sector"] for r in listed)
    assert sectors.most_common(1)[0][0] in ("court_defaulter", "abnormal_operation")
    for row in listed:
        sector = catalog.sector(row["sector"])
        assert row["department"] == row["listing_department"] == sector.lead_department
        assert "2014-01-01" <= row["listed_on"] <= "2017-12-31"
        assert bool(row["planned_end_on"]) == (sector.default_period_months is not None)
        pattern = (
            r"\(\d{4}\)浙\d{4}执\d+号"
            if row["sector"] == "court_defaulter"
            else r".+〔\d{4}〕\d+号"
        )
        assert re.fullmatch(pattern, row["decision_no"]), row["decision_no"]
    by_decision = {r["decision_no"]: r for r in listed}
    for row in removed:
        assert row["removed_on"] >= row["listed_on"] == by_decision[row["decision_no"]]["listed_on"]
        if row["removal_ground"] == "EXPIRY":
            assert row["removed_on"] == row["planned_end_on"]
        if row["removal_ground"] == "COURT_DELETION":
            assert row["sector"] == "court_defaulter"


def test_some_firms_are_listed_in_two_sectors_at_once(rows: dict[str, list[Row]]) -> None:
    ended = {r["decision_no"]: r["removed_on"] for r in of(rows["blacklist"], "REMOVED")}
    overlapping = 0
    for run in by_firm(of(rows["blacklist"], "LISTED")):
        for a in run:
            for b in run:
                if a["sector"] < b["sector"] and max(a["listed_on"], b["listed_on"]) < min(
                    ended.get(a["decision_no"], "9999"), ended.get(b["decision_no"], "9999")
                ):
                    overlapping += 1
    assert overlapping >= 3


def test_a_major_tax_violation_listing_makes_that_years_grade_d(rows: dict[str, list[Row]]) -> None:
    grades = {(r["uscc"], r["tax_year"]): r for r in of(rows["tax"], "GRADE_ASSESSED")}
    tax_listings = [
        r for r in of(rows["blacklist"], "LISTED") if r["sector"] == "major_tax_violation"
    ]
    assert tax_listings
    for row in tax_listings:
        grade = grades[(row["uscc"], row["listed_on"][:4])]
        assert grade["grade"] == "D"
        assert grade["direct_judgement"] == "true"


# -- trademarks ---------------------------------------------------------------------------


def test_trademarks_holders_numbers_terms_and_pledges(rows: dict[str, list[Row]]) -> None:
    marks = of(rows["trademark"], "REGISTERED")
    holders = {r["uscc"] for r in marks}
    assert 0.12 * FIRMS < len(holders) < 0.3 * FIRMS
    numbers = [r["registration_no"] for r in marks]
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"\d{7,8}", n) for n in numbers)
    for row in marks:
        assert 1 <= int(row["nice_class"]) <= 45
        start, end = (
            dt.date.fromisoformat(row["valid_from"]),
            dt.date.fromisoformat(row["valid_until"]),
        )
        leap_day = (start.month, start.day) == (2, 29)
        ten_years_on = start.replace(year=start.year + 10, day=28 if leap_day else start.day)
        assert end + dt.timedelta(days=1) == ten_years_on  # 2010-01-07 .. 2020-01-06
    events = collections.Counter(r["event_type"] for r in rows["trademark"])
    assert events["RENEWED"]
    assert events["EXPIRED"]
    assert events["PLEDGE_REGISTERED"]
    assert events["INFRINGEMENT_PENALTY"] < 0.01 * FIRMS
    for row in of(rows["trademark"], "PLEDGE_REGISTERED"):
        assert row["pledgee"].endswith(("分行", "支行"))
        assert float(row["secured_amount"]) > 0


def test_patents_holders_numbers_and_their_later_facts(rows: dict[str, list[Row]]) -> None:
    patents = rows["patent"]
    granted = of(patents, "GRANTED")
    holders = {r["uscc"] for r in granted}
    assert 0.03 * FIRMS < len(holders) < 0.2 * FIRMS  # a synthetic share: docs/patents.md
    zjtx = {r["uscc"] for r in of(rows["enterprise"], "ZJTX_GRANTED")}
    assert zjtx
    assert len(zjtx & holders) / len(zjtx) > 2 * len(holders) / FIRMS  # far likelier
    numbers = [r["patent_no"] for r in granted]
    assert len(set(numbers)) == len(numbers)
    kinds = collections.Counter(r["patent_kind"] for r in granted)
    assert kinds["UTILITY_MODEL"] > kinds["DESIGN"] > kinds["INVENTION"] > 0
    for row in granted:
        number = validate_patent_no(row["patent_no"])
        filed, grant = (
            dt.date.fromisoformat(row["application_date"]),
            dt.date.fromisoformat(row["grant_date"]),
        )
        assert (number.number, number.kind) == (row["patent_no"], row["patent_kind"])
        assert number.year == filed.year
        assert filed < grant <= HORIZON
        assert number.legacy == (filed < dt.date(2003, 10, 1))
        assert row["department"] == "CNIPA"
    known = set(numbers)
    assert {r["patent_no"] for r in patents} <= known
    registered = {r["uscc"]: r for r in of(rows["enterprise"], "REGISTERED")}
    out, in_ = of(patents, "TRANSFERRED_OUT"), of(patents, "TRANSFERRED_IN")
    assert out
    assert len(out) == len(in_)
    for gave, got in zip(out, in_, strict=True):  # written as a pair, the out side first
        assert (gave["patent_no"], gave["occurred_at"]) == (got["patent_no"], got["occurred_at"])
        assert gave["uscc"] == gave["transferor_uscc"] == got["transferor_uscc"]
        assert got["uscc"] == got["transferee_uscc"] == gave["transferee_uscc"] != gave["uscc"]
        taker = registered[got["uscc"]]
        assert taker["established_on"] < got["occurred_at"][:10]
    pledges = of(patents, "PLEDGE_REGISTERED")
    assert pledges
    assert len({r["pledge_no"] for r in pledges}) == len(pledges)
    assert all(r["pledge_from"] < r["pledge_until"] and r["pledgee"] for r in pledges)
    opened = {r["pledge_no"]: r["occurred_at"] for r in pledges}
    for row in of(patents, "PLEDGE_RELEASED"):
        assert opened[row["pledge_no"]] < row["occurred_at"]
    assert of(patents, "LAPSED")
    assert of(patents, "INVALIDATED")


# -- bad rows -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_exactly_the_logged_bad_rows_are_rejected_with_the_logged_reason(
    tmp_path: Path, fmt: str
) -> None:
    report = generate(1500, 11, tmp_path, bad_rows=0.2, fmt=fmt)
    verdicts = parse_all(report)
    planted = {(e["file"], e["line"]): e for e in logged(report)}
    rejected = {key: verdict for key, verdict in verdicts.items() if verdict is not None}
    assert set(rejected) == set(planted)
    for key, entry in planted.items():
        reason, field = rejected[key]
        assert reason == entry["reason"] == BAD_ROW_KINDS[str(entry["kind"])][0], (key, entry)
        if entry["kind"] != "gbk_bytes":  # an undecodable row is rejected as a whole
            assert field == entry["field"], (key, entry)
    assert {e["kind"] for e in planted.values()} == set(BAD_ROW_KINDS)
    assert report.bad_rows == len(planted)
    for source in SOURCES:  # F of each file's rows (bigger files: closer to F)
        bad = sum(1 for name, _ in planted if name == report.paths[source].name)
        if report.rows[source] > 1000:
            assert 0.17 < bad / report.rows[source] < 0.23


def test_bad_rows_are_realistic_breakages(tmp_path: Path) -> None:
    report = generate(600, 2, tmp_path, bad_rows=0.1)
    raw = report.paths["enterprise"].read_bytes().split(b"\n")
    for entry in logged(report):
        if entry["kind"] == "gbk_bytes" and entry["file"] == "enterprise.csv":
            line = raw[int(str(entry["line"])) - 1]
            name = line.split(b",")[5]
            assert name.decode("gbk").endswith(("公司", "合作社", "商行", "经营部", "店"))
            break
    else:
        pytest.fail("no GBK-encoded name planted")


# -- arguments and the command ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "xml"}, "csv or jsonl"),
        ({"bad_rows": 0.9}, "fraction"),
        ({"enterprises": -1}, "0.."),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"enterprises": 10, "seed": 1, "out_dir": tmp_path} | kwargs
    with pytest.raises(ValueError, match=message):
        generate(**arguments)  # type: ignore[arg-type]


def test_the_command_writes_the_files_and_prints_their_row_counts(tmp_path: Path) -> None:
    out = tmp_path / "province"
    result = CliRunner().invoke(
        generate_command,
        ["--enterprises", "50", "--seed", "9", "--out", str(out), "--bad-rows", "0.05",
         "--format", "jsonl"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for source in SOURCES:
        path = out / f"{source}.jsonl"
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        assert f"{path}  {len(lines)} rows" in result.output
        assert all(
            set(json.loads(line)) == set(COLUMNS[source]) for line in lines if "\ufffd" not in line
        )
    assert "bad rows" in result.output
