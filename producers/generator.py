"""The synthetic province: seeded department exports of Zhejiang firms, 1990-2018.

:func:`generate` writes ``enterprise``, ``tax``, ``trademark``, ``blacklist`` and ``patent``
files (CSV
or JSON Lines, columns = Avro field names, no ``event_id`` so ids are derived) that
``zjcredit produce`` reads, plus ``bad_rows.jsonl`` naming every bad row it planted with the
reason the row parser will give. Firms are made one at a time and their rows written at
once, so memory stays flat for a million firms; a seed gives byte-identical files, and a
smaller run is a prefix of a bigger one with the same seed.

A bad row is a broken copy of a good row, written just before it and drawn from a random
stream of its own: the good rows are the same whatever the fraction, so a run with bad rows
folds to the same profiles as one without.

The numbers come from /work/shared/domain.md (sections cited at each constant); where it
gives none they are our estimates and say so. The synthetic "today" is :data:`HORIZON`.
Patents (producers/patents.py) come from a random stream of their own, and so do their bad
rows: the other files are the same bytes as before patents were added. A patent transfer is
written with its transferor's rows, its TRANSFERRED_IN row under the transferee's code.

Example::

    report = generate(20_000, seed=1, out_dir=Path("data"), bad_rows=0.02)
    report.rows["tax"], report.bad_rows      # rows written, bad rows planted

    $ zjcredit generate --enterprises 100000 --seed 1 --out data --bad-rows 0.02
"""

from __future__ import annotations

import bisect
import calendar
import csv
import datetime as dt
import itertools
import json
import math
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

import click
from tqdm import tqdm

from producers import names as nm
from producers.patents import PatentMaker
from schemas.events import REQUIRED, SOURCES
from schemas.registry import ManifestRegistry
from schemas.sectors import Sector, load_catalog
from schemas.uscc import ALPHABET, ZHEJIANG_CITIES, make_code

__all__ = ["BAD_ROW_KINDS", "COLUMNS", "HORIZON", "GenerationReport", "firm_rows", "generate",
           "generate_command"]  # fmt: skip

HORIZON = dt.date(2018, 6, 30)  # "today": just after the 2017 grades come out in April-May (§2)
FIRST_YEAR, LAST_YEAR = 1990, 2017
ESTABLISHMENT_GROWTH = 1.12  # §7: 25.1万 new small/micro firms in 2016 of ≈168万: skew recent
ENTITY_TYPES = {"91": 0.95, "92": 0.03, "93": 0.02}  # §1: 91 企业, 92 个体工商户, 93 合作社
SIZE_MIX = {"MICRO": 0.60, "SMALL": 0.28, "MEDIUM": 0.09, "LARGE": 0.03}  # §7: small/micro > 86%
# Registered capital in yuan by size; §7: small/micro firms are those under 500万.
CAPITAL = {"MICRO": (3e4, 1e6), "SMALL": (1e6, 5e6), "MEDIUM": (5e6, 5e7), "LARGE": (5e7, 5e9)}
INDIVIDUAL_CAPITAL = (1e4, 2e5)  # our estimate: a shop's funds
JOINT_STOCK = {"MICRO": 0.0, "SMALL": 0.03, "MEDIUM": 0.2, "LARGE": 0.6}  # our estimate
MA_FROM, MA_SHARE = dt.date(2015, 10, 1), 0.9  # §1: bodies often start "MA" since late 2015
CITY_LEVEL_REGISTRATION = 0.3  # §1: pos 3-8 = the registering authority; big firms at city level
CHANGE_RATE, DEREGISTER_RATE = 0.05, 0.01  # brief: ~5% change name or size, ~1% deregister
# 专精特新: a few hundred grants per 100k firms, all to small/medium C/I/M firms >= 3 years old.
ZJTX_ELIGIBLE_RATE, ZJTX_NATIONAL, ZJTX_REVOKE = 0.028, 0.15, 0.05
TAX_YEARS = range(2014, 2018)  # §2: the 2014 rules apply from 2014-10-01
M_FROM_TAX_YEAR = 2017  # §2: M added by SAT 2018 No.8, so first given for tax year 2017
A_MIN_YEARS, A_BAND, B_BAND, C_BAND = 3, 90.0, 70.0, 40.0  # §2 grade table and bars to A
D_BY_SCORE_PENALTY = 11.0  # §2: a D by score costs 11 points at the next evaluation
# Our estimate: score = mean + spread * quality + noise gives ~10% A and most B; a troubled
# tail (quality ~ N(-4, 2.2)) gives the C, D and listings.
SCORE_MEAN, SCORE_SPREAD, SCORE_NOISE = 84.0, 5.5, 3.5
TROUBLED_RATE, TROUBLED_MEAN, TROUBLED_SD = 0.05, -4.0, 2.2
DIRECT_D_RATE, ZERO_REVENUE_RATE, REPAIR_RATE = 0.008, 0.03, 0.15  # §2 direct D, M, repair
ARREARS_RATE = 0.03  # brief: ~3% of firms owe tax at some point
TAX_MEDIAN = {"MICRO": 1.5e4, "SMALL": 1.5e5, "MEDIUM": 1.5e6, "LARGE": 2e7}  # yuan/yr, estimate
TAX_SIGMA, TAX_GROWTH, INDIVIDUAL_TAX = 1.0, 1.06, 3e3
MARK_HOLDERS = {"MICRO": 0.14, "SMALL": 0.27, "MEDIUM": 0.4, "LARGE": 0.6}  # ~20% hold marks
MARK_COUNTS = {1: 50, 2: 25, 3: 12, 4: 8, 5: 5}
MARK_TERM_YEARS, GRACE_MONTHS, RENEWAL_RATE = 10, 6, 0.7  # §5: 10-year term, 6-month grace
PLEDGE_RATE, PLEDGE_RELEASE = 0.012, 0.5  # per mark: ~2% of holders pledge one
WELL_KNOWN = {"MICRO": 0.0, "SMALL": 0.0005, "MEDIUM": 0.004, "LARGE": 0.03}  # §5: rare
INFRINGEMENT_RATE, INFRINGEMENT_CAP = 0.003, 250_000  # §5: no turnover -> fine <= 25万
# Key-sector listings (§4): ~2% of firms, troubled ones far more often; court defaulters and
# abnormal operation are by far the largest lists.
LISTING_RATE, TROUBLED_LISTING_RATE, SECOND_LISTING, REMOVAL_RATE = 0.012, 0.07, 0.1, 0.43
SECTOR_WEIGHTS = {
    "court_defaulter": 40, "abnormal_operation": 30, "market_serious_illegal": 5,
    "major_tax_violation": 5, "wage_arrears": 4, "production_safety": 3, "environment": 4,
    "food_drug": 3, "product_quality": 3, "government_procurement": 1.5,
    "public_resource_trading": 1.5,
}  # fmt: skip
ABNORMAL_TO_SERIOUS_YEARS = 3  # §4: 3 years uncured on 经营异常名录 -> the serious list
LISTING_FROM, LISTING_UNTIL = dt.date(2014, 1, 1), dt.date(2017, 12, 31)

COLUMNS: Mapping[str, tuple[str, ...]] = {
    "enterprise": ("uscc", "department", "occurred_at", "reported_at", "event_type", "name",
                   "city_code", "district_code", "industry_section", "industry_code",
                   "size_class", "established_on", "registered_capital", "zjtx_level",
                   "zjtx_year"),
    "tax": ("uscc", "department", "occurred_at", "reported_at", "event_type", "tax_year",
            "grade", "previous_grade", "score", "direct_judgement", "amount", "overdue_since",
            "evaluating_office"),
    "trademark": ("uscc", "department", "occurred_at", "reported_at", "event_type",
                  "registration_no", "mark_name", "nice_class", "valid_from", "valid_until",
                  "recognised_by", "pledge_no", "pledgee", "secured_amount", "pledge_until",
                  "decision_no", "penalty_amount", "authority"),
    "blacklist": ("uscc", "department", "occurred_at", "reported_at", "event_type", "sector",
                  "decision_no", "listing_department", "listed_on", "planned_end_on",
                  "reason", "removal_ground", "removed_on"),
    "patent": ("uscc", "department", "occurred_at", "reported_at", "event_type", "patent_no",
               "patent_kind", "title", "application_date", "grant_date", "transferor_uscc",
               "transferee_uscc", "pledge_no", "pledgee", "secured_amount", "pledge_from",
               "pledge_until", "decision_no", "partial"),
}  # fmt: skip
"""The columns written per source: Avro field names of the v1 schemas, without event_id."""

BAD_ROW_KINDS: Mapping[str, tuple[str, float, str | None]] = {
    "uscc_check_char": ("invalid_credit_code", 2, None),
    "uscc_illegal_char": ("invalid_credit_code", 1, None),
    "uscc_truncated": ("invalid_credit_code", 1, None),
    "bad_date": ("bad_value", 3, None),
    "blank_required": ("missing_field", 3, None),
    "gbk_bytes": ("encoding", 2, None),
    "unknown_enum": ("bad_value", 2, None),
    "unknown_sector": ("unknown_sector", 10, "blacklist"),
    "nice_class_46": ("out_of_range", 3, "trademark"),
    "patent_check_digit": ("patent_check_digit", 3, "patent"),
}
"""Kind of bad row -> (reason the row parser gives, weight, the one source it applies to)."""
_BAD_DATES = ("2017-13-45", "2017年4月", "2016-02-30", "2017.04.20", "04/20/2017", "二〇一六年")
_BAD_SYMBOLS = ("B级", "小微", "TINY", "CITY", "EXPIRED", "登记", "AA")
_BAD_SECTORS = ("food_safety", "tax_evasion", "court_defaulters", "失信被执行人", "COURT_DEFAULTER")
_TEXT_COLUMN = {"enterprise": "name", "tax": "evaluating_office", "trademark": "mark_name",
                "blacklist": "reason", "patent": "title"}  # fmt: skip
_DAY = dt.timedelta(days=1)
_LOG_DELAY = (math.log(300), math.log(10 * 86400))  # reports come 5 minutes to 10 days late
_T = TypeVar("_T")
_Row = dict[str, str]


@dataclass(frozen=True)
class GenerationReport:
    """What :func:`generate` wrote: per source its file and data rows (bad ones included)."""

    enterprises: int
    seed: int
    format: str
    paths: Mapping[str, Path]
    rows: Mapping[str, int]
    bad_rows: int
    bad_rows_path: Path


@dataclass
class _Firm:
    uscc: str
    entity_type: str
    city: str
    district: nm.District
    section: str
    industry: nm.Industry
    size: str
    established: dt.date
    brand: str
    name: str
    quality: float  # drives tax scores and the odds of a listing
    end: dt.date  # deregistration date, else HORIZON
    zjtx_year: int | None = None  # 专精特新 since (producers/patents.py: more patents)


class _Weights(Generic[_T]):
    """A weighted choice with its cumulative weights worked out once."""

    def __init__(self, weights: Mapping[_T, float]) -> None:
        self.keys = list(weights)
        self.cumulative = list(itertools.accumulate(weights.values()))

    def pick(self, rng: random.Random) -> _T:
        return self.keys[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


class _Scramble:
    """A seeded bijection of range(base**width): affine map, digit reversal, affine map.
    Unique, random-looking identifiers without remembering the ones already given out."""

    def __init__(self, base: int, width: int, rng: random.Random) -> None:
        self.base, self.width = base, width
        self.size: int = base**width
        self.keys = [(self._unit(rng), rng.randrange(self.size)) for _ in range(2)]

    def _unit(self, rng: random.Random) -> int:
        while math.gcd(a := rng.randrange(1, self.size), self.size) != 1:
            pass
        return a

    def __call__(self, x: int) -> int:
        a, b = self.keys[0]
        x, y = (a * x + b) % self.size, 0
        for _ in range(self.width):
            x, digit = divmod(x, self.base)
            y = y * self.base + digit
        a, b = self.keys[1]
        return (a * y + b) % self.size

    def digits(self, x: int) -> list[int]:
        y = self(x)
        return [y // self.base**i % self.base for i in reversed(range(self.width))]


def _day(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=int(rng.random() * ((hi - lo).days + 1)))


def _months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))  # 31 Jan + 1


def _money(value: float) -> str:
    return f"{max(value, 0.0):.2f}"


_ENTITY_TYPES, _SIZES, _CITIES = (
    _Weights(ENTITY_TYPES),
    _Weights(SIZE_MIX),
    _Weights(nm.CITY_WEIGHTS),
)
_DISTRICTS = {c: _Weights({d: d.weight for d in ds}) for c, ds in nm.DISTRICTS.items()}
_SECTIONS = _Weights({s: w for s, (w, _) in nm.INDUSTRIES.items()})
_YEARS = _Weights(
    {y: ESTABLISHMENT_GROWTH ** (y - FIRST_YEAR) for y in range(FIRST_YEAR, LAST_YEAR + 1)}
)
_MARK_COUNTS = _Weights(MARK_COUNTS)


class _Province:
    """Makes one firm at a time with its rows per source; all randomness from one seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
        self.catalog = load_catalog()
        self.digit_bodies = _Scramble(10, 8, self.rng)
        self.ma_bodies = _Scramble(31, 6, self.rng)
        self.mark_numbers = _Scramble(10, 8, self.rng)
        # Its own stream: the other sources' rows do not depend on the patents.
        self.patent_rng = random.Random(f"zjcredit-patents:{seed}")  # noqa: S311
        self.patents = PatentMaker(self.patent_rng, HORIZON)
        self.marks = self.pledges = 0
        self.counters: dict[str, int] = {}  # next document number per (kind, place, year)
        self.rows: dict[str, list[tuple[dt.datetime, _Row]]] = {}

    def _add(self, source: str, firm: _Firm, day: dt.date, department: str, kind: str,
             **fields: str) -> None:  # fmt: skip
        self._row(source, firm, day, (department, kind), fields=fields, r=self.rng)

    def _row(self, source: str, firm: _Firm, day: dt.date, what: tuple[str, str], *,
             fields: Mapping[str, str], r: random.Random,
             at: dt.datetime | None = None) -> dt.datetime:  # fmt: skip
        """Add ``what`` (department, event type) on ``day``, at a random office hour from
        ``r`` or at ``at``; return its time."""
        when = at or dt.datetime.combine(day, dt.time(8, 30)) + dt.timedelta(
            seconds=int(r.random() * 32400)
        )
        delay = dt.timedelta(seconds=round(math.exp(r.uniform(*_LOG_DELAY))))
        row = {"uscc": firm.uscc, "department": what[0], "event_type": what[1],
               "occurred_at": when.isoformat() + "+08:00",
               "reported_at": (when + delay).isoformat() + "+08:00"}  # fmt: skip
        row.update(fields)  # blanks stay blank in the file
        if day <= firm.end:  # a deregistered firm has no later facts
            self.rows[source].append((when, row))
        return when

    def _number(self, key: str, start: int, step: int) -> int:
        n = self.counters.get(key) or self.rng.randint(1, start)
        self.counters[key] = n + self.rng.randint(1, step)
        return n

    def _mark_number(self) -> str:
        # 7-8 digits, unique: walk the 10^8 bijection until it lands at >= 1,000,000.
        self.marks += 1
        x = self.mark_numbers(self.marks + 999_999)
        while x < 1_000_000:
            x = self.mark_numbers(x)
        return str(x)

    def firm(self, index: int) -> dict[str, list[_Row]]:
        """The rows of firm ``index`` per source, each source's in occurred_at order."""
        self.rows = {source: [] for source in SOURCES}
        f = self._new_firm(index)
        self._enterprise(f)
        forced_d = self._blacklist(f)  # first: a tax listing decides that year's grade
        self._tax(f, forced_d)
        self._trademarks(f)
        out: dt.datetime | None = None  # a transfer is one registration: one time, both sides
        for fact in self.patents.facts(f):
            holder, at = fact.holder, out if fact.event_type == "TRANSFERRED_IN" else None
            assert isinstance(holder, _Firm)
            what = ("CNIPA", fact.event_type)
            out = self._row("patent", holder, fact.day, what, fields=fact.fields,
                            r=self.patent_rng, at=at)  # fmt: skip
        return {s: [row for _, row in sorted(rows, key=lambda t: t[0])]
                for s, rows in self.rows.items()}  # fmt: skip

    # -- registration (§1, §7) --------------------------------------------------------
    def _new_firm(self, index: int) -> _Firm:
        r = self.rng
        kind, city = _ENTITY_TYPES.pick(r), _CITIES.pick(r)
        district = _DISTRICTS[city].pick(r)
        year = _YEARS.pick(r)
        established = _day(r, dt.date(year, 1, 1), dt.date(year, 12, 31))
        size = _SIZES.pick(r) if kind == "91" else "MICRO"
        section = {"91": "", "92": r.choice(nm.INDIVIDUAL_SECTIONS), "93": "A"}[kind]
        section = section or _SECTIONS.pick(r)
        if established >= MA_FROM and r.random() < MA_SHARE:
            body = "MA" + "".join(ALPHABET[d] for d in self.ma_bodies.digits(index))
        else:  # a converted organisation code: eight digits
            body = "".join(map(str, self.digit_bodies.digits(index)))
        big = size in ("MEDIUM", "LARGE") and r.random() < CITY_LEVEL_REGISTRATION
        troubled = r.random() < TROUBLED_RATE
        quality = r.gauss(TROUBLED_MEAN, TROUBLED_SD) if troubled else r.gauss(0.0, 1.0)
        end, earliest = HORIZON, established + dt.timedelta(days=365)
        if r.random() < DEREGISTER_RATE and earliest < HORIZON:
            end = _day(r, earliest, HORIZON)
        industry = r.choice(nm.INDUSTRIES[section][1])
        uscc = make_code(kind, city if big else district.code, body)
        f = _Firm(uscc, kind, city, district, section, industry, size, established,
                  self._brand(), "", quality, end)  # fmt: skip
        f.name = self._name(f, f.brand)
        return f

    def _brand(self) -> str:
        return "".join(self.rng.sample(nm.BRAND_SYLLABLES, 2 if self.rng.random() < 0.8 else 3))

    def _name(self, f: _Firm, brand: str) -> str:
        r = self.rng
        county = f.district.name[-1] in "市县"
        place = f.district.name if county and r.random() < 0.4 else ZHEJIANG_CITIES[f.city][0]
        if f.size == "LARGE" and r.random() < 0.5:
            place = "浙江"
        if f.entity_type == "93":
            return f"{place}{brand}{r.choice(nm.COOP_PRODUCTS)}专业合作社"
        word = r.choice(f.industry.words)
        if f.entity_type == "92":
            return f"{place}{brand}{word}{r.choice(('商行', '经营部', '店'))}"
        joint = r.random() < JOINT_STOCK[f.size]
        return f"{place}{brand}{word}{'股份有限公司' if joint else '有限公司'}"

    def _capital(self, size: str, kind: str) -> str:
        lo, hi = CAPITAL[size] if kind != "92" else INDIVIDUAL_CAPITAL
        return _money(round(math.exp(self.rng.uniform(math.log(lo), math.log(hi))), -4))

    def _enterprise(self, f: _Firm) -> None:
        r = self.rng
        self._add("enterprise", f, f.established, "SAMR", "REGISTERED", name=f.name,
                  city_code=f.city, district_code=f.district.code, industry_section=f.section,
                  industry_code=f.industry.code, size_class=f.size,
                  established_on=f.established.isoformat(),
                  registered_capital=self._capital(f.size, f.entity_type))  # fmt: skip
        start = f.established + dt.timedelta(days=60)
        if r.random() < CHANGE_RATE and start < f.end:
            day = _day(r, start, f.end - _DAY)
            if f.size == "LARGE" or f.entity_type != "91" or r.random() < 0.5:
                f.name = self._name(f, self._brand())
                self._add("enterprise", f, day, "SAMR", "CHANGED", name=f.name)
            else:  # grew a size class, and its capital with it
                f.size = list(SIZE_MIX)[list(SIZE_MIX).index(f.size) + 1]
                self._add("enterprise", f, day, "SAMR", "CHANGED", size_class=f.size,
                          registered_capital=self._capital(f.size, f.entity_type))  # fmt: skip
        if f.end < HORIZON:
            self._add("enterprise", f, f.end, "SAMR", "DEREGISTERED")
            return
        first = max(2012, f.established.year + 3)
        if (f.entity_type == "91" and f.section in "CIM" and f.size in ("SMALL", "MEDIUM")
                and first <= LAST_YEAR and r.random() < ZJTX_ELIGIBLE_RATE):  # fmt: skip
            year = r.randint(first, LAST_YEAR)
            level = "NATIONAL" if r.random() < ZJTX_NATIONAL else "PROVINCIAL"
            granted = _day(r, dt.date(year, 9, 1), dt.date(year, 12, 31))
            grant = {"zjtx_level": level, "zjtx_year": str(year)}
            f.zjtx_year = year
            self._add("enterprise", f, granted, "SAMR", "ZJTX_GRANTED", **grant)
            if r.random() < ZJTX_REVOKE and granted + dt.timedelta(days=180) < HORIZON:
                revoked = _day(r, granted + dt.timedelta(days=180), HORIZON)
                self._add("enterprise", f, revoked, "SAMR", "ZJTX_REVOKED", **grant)

    # -- tax (§2) ---------------------------------------------------------------------
    def _tax(self, f: _Firm, forced_d: set[int]) -> None:
        r = self.rng
        median = TAX_MEDIAN[f.size] if f.entity_type != "92" else INDIVIDUAL_TAX
        zero_revenue = f.size == "MICRO" and r.random() < ZERO_REVENUE_RATE
        county = f.district.name[-1] in "市县"
        office = (
            ("" if county else ZHEJIANG_CITIES[f.city][0] + "市") + f.district.name + "国家税务局"
        )
        prev: tuple[str, bool] | None = None  # last year's (grade after repair, direct)
        carried = barred = False  # a direct D is kept through year 2 and bars A in year 3
        for year in TAX_YEARS:
            if f.established.year > year:
                continue
            paid = _day(r, dt.date(year + 1, 1, 10), dt.date(year + 1, 5, 31))
            share = min(1.0, (dt.date(year, 12, 31) - f.established).days / 365)
            amount = median * r.lognormvariate(0, TAX_SIGMA) * TAX_GROWTH ** (year - 2014) * share
            if zero_revenue and year >= M_FROM_TAX_YEAR:
                amount = 0.0
            self._add("tax", f, paid, "SAT", "TAX_PAID", tax_year=str(year), amount=_money(amount))
            new = f.established.year == year
            if f.entity_type == "92" or (new and year < M_FROM_TAX_YEAR):
                continue  # individual businesses are not rated; before M a full year was needed
            direct_d, m_eligible = year in forced_d or carried, new or zero_revenue
            grade, score, direct = self._grade(f, year, prev, direct_d=direct_d, barred=barred,
                                               m_eligible=m_eligible)  # fmt: skip
            assessed = _day(r, dt.date(year + 1, 4, 1), dt.date(year + 1, 5, 31))
            self._add("tax", f, assessed, "SAT", "GRADE_ASSESSED", tax_year=str(year),
                      grade=grade, score=score, direct_judgement=str(direct).lower(),
                      evaluating_office=office)  # fmt: skip
            final = grade
            # Repair (§2): apply by the end of the year after the record; never back to A;
            # not while a major tax-violation listing is in force.
            lo, hi = assessed + dt.timedelta(days=30), min(dt.date(year + 1, 12, 31), HORIZON)
            listed = year in forced_d or year - 1 in forced_d
            if grade in "CD" and not listed and r.random() < REPAIR_RATE and lo <= hi:
                final = "B" if grade == "C" or r.random() < 0.4 else "C"
                self._add("tax", f, _day(r, lo, hi), "SAT", "GRADE_REPAIRED", tax_year=str(year),
                          grade=final, previous_grade=grade)  # fmt: skip
            kept = direct and final == "D"  # a repaired firm escapes the 2-year rule
            barred, carried = carried or kept, kept and not carried
            prev = (final, direct)
        if r.random() < ARREARS_RATE:
            lo = max(f.established + dt.timedelta(days=180), dt.date(2015, 1, 1))
            if lo < f.end:
                day = _day(r, lo, f.end)
                since = max(f.established, day - dt.timedelta(days=r.randint(30, 365)))
                self._add("tax", f, day, "SAT", "ARREARS_SNAPSHOT", overdue_since=since.isoformat(),
                          amount=_money(median * 0.3 * r.lognormvariate(0, TAX_SIGMA)))  # fmt: skip
                cleared = day + dt.timedelta(days=r.randint(30, 300))
                if r.random() < 0.5 and cleared <= HORIZON:  # paid up: nothing outstanding
                    self._add("tax", f, cleared, "SAT", "ARREARS_SNAPSHOT", amount="0.00")

    def _grade(self, f: _Firm, year: int, prev: tuple[str, bool] | None, *, direct_d: bool,
               barred: bool, m_eligible: bool) -> tuple[str, str, bool]:  # fmt: skip
        """(grade, score text, direct judgement) for one tax year."""
        r = self.rng
        if direct_d or r.random() < DIRECT_D_RATE:
            return "D", "", True  # judged directly: no score decides it
        score = SCORE_MEAN + SCORE_SPREAD * f.quality + r.gauss(0, SCORE_NOISE)
        d_by_score = prev == ("D", False)
        score = round(min(100.0, max(0.0, score - D_BY_SCORE_PENALTY * d_by_score)), 2)
        if score < C_BAND:
            grade = "D"
        elif score < B_BAND:
            grade = "C"
        elif m_eligible and year >= M_FROM_TAX_YEAR:
            grade = "M"
        elif score < A_BAND:
            grade = "B"
        elif year - f.established.year < A_MIN_YEARS or d_by_score or barred:
            grade, score = "B", round(r.uniform(80.0, 89.99), 2)  # barred from A: keep B's band
        else:
            grade = "A"
        return grade, f"{score:.2f}", False

    # -- key-sector blacklists (§4) ---------------------------------------------------
    def _blacklist(self, f: _Firm) -> set[int]:
        """List the firm (maybe in two sectors); return the tax years a tax listing makes D."""
        r = self.rng
        rate = TROUBLED_LISTING_RATE if f.quality < -1 else LISTING_RATE
        forced: set[int] = set()
        if f.end < HORIZON or r.random() >= rate:
            return forced
        lo = max(LISTING_FROM, f.established + dt.timedelta(days=90))
        sector = self._sector(f, exclude="")
        first = self._listing(f, sector, lo, LISTING_UNTIL, forced)
        if first is None:
            return forced
        listed, removed = first
        moved = _months(listed, 12 * ABNORMAL_TO_SERIOUS_YEARS)
        if sector == "abnormal_operation" and removed is None and moved <= LISTING_UNTIL:
            self._listing(f, "market_serious_illegal", moved, moved, forced)  # still uncured
        elif r.random() < SECOND_LISTING:  # a second sector while the first is in force
            hi = min(removed - _DAY if removed else listed + dt.timedelta(days=365), LISTING_UNTIL)
            self._listing(f, self._sector(f, exclude=sector), listed, hi, forced)
        return forced

    def _sector(self, f: _Firm, exclude: str) -> str:
        weights = {}
        for code, base in SECTOR_WEIGHTS.items():
            affinity = nm.SECTOR_AFFINITY.get(code)
            weights[code] = base * (affinity.get(f.section, 0.1) if affinity else 1.0)
        if f.entity_type == "92":  # not rated, so no tax grade to make D
            weights["major_tax_violation"] = 0.0
        weights.pop(exclude, None)
        return _Weights(weights).pick(self.rng)

    def _listing(self, f: _Firm, code: str, lo: dt.date, hi: dt.date,
                 forced: set[int]) -> tuple[dt.date, dt.date | None] | None:  # fmt: skip
        r, sector = self.rng, self.catalog.sector(code)
        if code == "major_tax_violation":  # rated in the listing year, so that grade is D
            lo = max(lo, dt.date(f.established.year + 1, 1, 1))
        if lo > hi:
            return None
        listed = _day(r, lo, hi)
        year, dept = listed.year, sector.lead_department
        if code == "court_defaulter":  # (2017)浙0106执1234号: the district court's case
            n = self._number(f"{code}{f.district.code}{year}", 2000, 20)
            decision = f"({year})浙{f.district.code[2:]}执{n}号"
        else:  # 杭税稽罚〔2016〕123号
            n = self._number(f"{code}{f.city}{year}", 200, 5)
            prefix = nm.CITY_ABBREVIATIONS[f.city] + nm.DECISION_PREFIXES[code]
            decision = f"{prefix}〔{year}〕{n}号"
        months = sector.default_period_months
        planned = _months(listed, months) if months else None
        common = {"sector": code, "decision_no": decision, "listing_department": dept,
                  "listed_on": listed.isoformat(),
                  "planned_end_on": planned.isoformat() if planned else ""}  # fmt: skip
        facts = r.choice(nm.LISTING_REASONS[code])
        reason = facts.format(amount=r.randint(10, 800), pct=r.randint(10, 60))
        self._add("blacklist", f, listed, dept, "LISTED", reason=reason, **common)
        if code == "major_tax_violation":
            forced.add(year)
        if r.random() >= REMOVAL_RATE:
            return listed, None
        ground, removed = self._removal(sector, listed, planned)
        if removed > HORIZON:
            return listed, None
        self._add("blacklist", f, removed, dept, "REMOVED", removal_ground=ground,
                  removed_on=removed.isoformat(), **common)  # fmt: skip
        return listed, removed

    def _removal(self, sector: Sector, listed: dt.date,
                 planned: dt.date | None) -> tuple[str, dt.date]:  # fmt: skip
        r = self.rng
        if r.random() < 0.07:  # an objection upheld soon after the listing
            return "REVOKED_ON_OBJECTION", listed + dt.timedelta(days=r.randint(10, 60))
        if sector.code == "court_defaulter":  # §4: deleted within days of payment
            return "COURT_DELETION", listed + dt.timedelta(days=r.randint(30, 540))
        if planned is not None and r.random() < 0.55:
            return "EXPIRY", planned
        # Repair: cured quickly for abnormal operation, after 1-3 years for serious lists (§4).
        days = r.randint(20, 700) if sector.code == "abnormal_operation" else r.randint(365, 900)
        removed = listed + dt.timedelta(days=days)
        return "CREDIT_REPAIR", min(removed, planned) if planned else removed

    # -- trademarks (§5) --------------------------------------------------------------
    def _trademarks(self, f: _Firm) -> None:
        r = self.rng
        if r.random() < INFRINGEMENT_RATE:  # someone else's mark, infringed
            day = _day(r, max(LISTING_FROM, f.established), LISTING_UNTIL)
            city = ZHEJIANG_CITIES[f.city][0]
            n = self._number(f"tm{f.city}{day.year}", 300, 5)
            decision = f"{nm.CITY_ABBREVIATIONS[f.city]}市监罚〔{day.year}〕{n}号"
            self._add("trademark", f, day, "SAMR", "INFRINGEMENT_PENALTY",
                      registration_no=self._mark_number(), mark_name=self._brand(),
                      nice_class=str(r.choice(f.industry.nice_classes)), decision_no=decision,
                      penalty_amount=_money(round(r.uniform(5000, INFRINGEMENT_CAP), -2)),
                      authority=f"{city}市市场监督管理局")  # fmt: skip
        if f.entity_type != "91" or r.random() >= MARK_HOLDERS[f.size]:
            return
        lo = max(f.established + dt.timedelta(days=180), dt.date(1993, 1, 1))
        if lo <= LISTING_UNTIL:
            for n in range(_MARK_COUNTS.pick(r)):
                self._mark(f, f.brand if n == 0 else self._brand(), _day(r, lo, LISTING_UNTIL))

    def _mark(self, f: _Firm, name: str, registered: dt.date) -> None:
        r, start = self.rng, registered
        number, nice = self._mark_number(), r.choice((*f.industry.nice_classes, 35))
        until = _months(start, 12 * MARK_TERM_YEARS) - _DAY  # 2010-01-07 .. 2020-01-06
        mark = {"registration_no": number, "mark_name": name}
        self._add("trademark", f, start, "SAMR", "REGISTERED", nice_class=str(nice),
                  valid_from=start.isoformat(), valid_until=until.isoformat(), **mark)  # fmt: skip
        renewal = until - dt.timedelta(days=r.randint(10, 330))  # in the last 12 months
        if r.random() < RENEWAL_RATE and renewal <= HORIZON:
            start, until = until + _DAY, _months(until + _DAY, 12 * MARK_TERM_YEARS) - _DAY
            self._add("trademark", f, renewal, "SAMR", "RENEWED", valid_from=start.isoformat(),
                      valid_until=until.isoformat(), **mark)  # fmt: skip
        elif (lapsed := _months(until, GRACE_MONTHS) + _DAY) <= HORIZON:
            self._add("trademark", f, lapsed, "SAMR", "EXPIRED", **mark)  # grace period over
            return
        last, first = min(until, HORIZON), max(registered, LISTING_FROM)
        if r.random() < WELL_KNOWN[f.size] and first < last:
            body = r.choice(nm.WELL_KNOWN_BODIES).format(city=ZHEJIANG_CITIES[f.city][0])
            self._add("trademark", f, _day(r, first, last), "SAMR", "WELL_KNOWN_RECOGNISED",
                      recognised_by=body, **mark)  # fmt: skip
        first = max(registered + dt.timedelta(days=365), LISTING_FROM)
        if r.random() < PLEDGE_RATE and first < last:
            day, bank = _day(r, first, last), r.choice(nm.BANKS)
            city = ZHEJIANG_CITIES[f.city][0]
            branch = f"{f.district.name[:-1]}支行" if bank.startswith(city) else f"{city}分行"
            self.pledges += 1  # unique: pledge k takes a number in [7k, 7k + 6]
            pledge = {"pledge_no": f"{day.year}ZY{self.pledges * 7 + r.randint(0, 6):07d}", **mark}
            due = _months(day, 12 * r.randint(1, 3))
            amount = round(TAX_MEDIAN[f.size] * 30 * r.lognormvariate(0, 0.6), -4)
            self._add("trademark", f, day, "SAMR", "PLEDGE_REGISTERED", pledgee=bank + branch,
                      secured_amount=_money(amount), pledge_until=due.isoformat(),
                      **pledge)  # fmt: skip
            released = _day(r, day + dt.timedelta(days=180), due)
            if r.random() < PLEDGE_RELEASE and released <= HORIZON:
                self._add("trademark", f, released, "SAMR", "PLEDGE_RELEASED", **pledge)


# -- writing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    """What a bad row can break in a source, read from its registered schema."""

    required: frozenset[str]  # non-null columns (a blank is rejected before validation)
    dates: tuple[str, ...]
    enums: Mapping[str, tuple[str, ...]]


def _specs() -> dict[str, _Spec]:
    registry, specs = ManifestRegistry.load(), {}
    for source in SOURCES:
        named: dict[str, Any] = {}
        required, dates, enums = set(), [], {}
        for field in registry.latest(source).schema["fields"]:
            branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
            (avro,) = [b for b in branches if b != "null"]
            avro = named.get(avro, avro) if isinstance(avro, str) else avro
            if "null" not in branches and field["name"] in COLUMNS[source]:
                required.add(field["name"])
            if isinstance(avro, dict) and avro.get("type") == "enum":
                named[avro["name"]] = avro
                enums[field["name"]] = tuple(avro["symbols"])
            elif isinstance(avro, dict) and avro.get("logicalType") in ("date", "timestamp-millis"):
                dates.append(field["name"])
        specs[source] = _Spec(frozenset(required - {"reported_at"}), tuple(dates), enums)
    return specs


class _BadRows:
    """Decides which rows get a broken copy, breaks it, and logs it to bad_rows.jsonl.

    Its own random stream: the good rows of a run are the same whatever the fraction."""

    def __init__(self, log: TextIO, fraction: float, seed: int) -> None:
        self.rng = random.Random(f"zjcredit-bad-rows:{seed}")  # noqa: S311
        # Patents' bad rows from their own stream, so the others' are as before patents.
        self.rngs = {"patent": random.Random(f"zjcredit-bad-rows:patent:{seed}")}  # noqa: S311
        self.chance = fraction / (1 - fraction)  # one copy per good row: F of all rows
        self.log, self.count, self.specs = log, 0, _specs()
        self.sectors = load_catalog().sectors
        self.kinds = {
            source: _Weights(
                {k: w for k, (_, w, only) in BAD_ROW_KINDS.items() if only in (None, source)}
            )
            for source in SOURCES
        }

    def corrupt(self, source: str, row: _Row) -> tuple[_Row, str, str] | None:
        rng = self.rngs.get(source, self.rng)
        if not self.chance or rng.random() >= self.chance:
            return None
        kind, bad = self.kinds[source].pick(rng), dict(row)
        return bad, kind, self._break(kind, source, bad, rng)

    def record(self, file: str, line: int, kind: str, field: str) -> None:
        self.count += 1
        entry = {"file": file, "line": line, "reason": BAD_ROW_KINDS[kind][0], "kind": kind,
                 "field": field}  # fmt: skip
        self.log.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def _break(self, kind: str, source: str, row: _Row, r: random.Random) -> str:
        """Break ``row`` in place the way ``kind`` says; return the column broken."""
        spec, code = self.specs[source], row["uscc"]
        field, at = "uscc", r.randrange(8, 17)
        if kind == "uscc_check_char":  # a typo in the check character
            value = code[:17] + r.choice(ALPHABET.replace(code[17], ""))
        elif kind == "uscc_illegal_char":  # the letter O typed for a zero, and the like
            value = code[:at] + r.choice("IOSVZ") + code[at + 1 :]
        elif kind == "uscc_truncated":
            value = code[:at] + code[at + 1 :]
        elif kind == "bad_date":
            field, value = r.choice([c for c in spec.dates if row.get(c)]), r.choice(_BAD_DATES)
        elif kind == "blank_required":
            needed = spec.required | set(REQUIRED[source][row["event_type"]])
            field, value = r.choice(sorted(c for c in needed if row.get(c))), ""
        elif kind == "gbk_bytes":  # exported by a GBK tool: not UTF-8
            field = _TEXT_COLUMN[source]
            raw = (row.get(field) or "浙江").encode("gbk", "replace")
            try:  # a few GBK pairs happen to be valid UTF-8 too: make sure it is not
                raw.decode("utf-8")
                raw += "浙江".encode("gbk")
            except UnicodeDecodeError:
                pass
            value = raw.decode("utf-8", "surrogateescape")  # written back as the same bytes
        elif kind == "unknown_enum":
            field = r.choice([c for c in spec.enums if row.get(c)])
            cut = row[field][:-2]  # a symbol cut short by too narrow a column, or a label
            value = r.choice(
                [s for s in (cut, *_BAD_SYMBOLS) if s and s.upper() not in spec.enums[field]]
            )
        elif kind == "unknown_sector":
            field, value = "sector", r.choice([s for s in _BAD_SECTORS if s not in self.sectors])
        elif kind == "patent_check_digit":  # a typo in the check character
            number = row["patent_no"]
            field, value = (
                "patent_no",
                number[:-1] + r.choice("0123456789X".replace(number[-1], "")),
            )
        else:  # nice_class_46
            field, value = "nice_class", "46"
        row[field] = value
        return field


class _Writer:
    """One source's file: header (CSV), then rows, each maybe preceded by a broken copy."""

    def __init__(self, handle: TextIO, source: str, fmt: str, bad: _BadRows) -> None:
        self.handle, self.source, self.bad = handle, source, bad
        self.name, self.columns = Path(handle.name).name, COLUMNS[source]
        self.csv = csv.writer(handle, lineterminator="\n") if fmt == "csv" else None
        self.lines = self.rows = 0
        if self.csv is not None:
            self.csv.writerow(self.columns)
            self.lines = 1

    def write(self, row: _Row) -> None:
        broken = self.bad.corrupt(self.source, row)
        if broken is not None:
            self._emit(broken[0])
            self.bad.record(self.name, self.lines, broken[1], broken[2])
        self._emit(row)

    def _emit(self, row: _Row) -> None:
        values = [row.get(c, "") for c in self.columns]
        if self.csv is not None:
            self.csv.writerow(values)
        else:
            record = dict(zip(self.columns, values, strict=True))
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.lines += 1
        self.rows += 1


def generate(
    enterprises: int, seed: int, out_dir: Path, bad_rows: float = 0.0, fmt: str = "csv",
    *, progress: Callable[[int], object] | None = None,
) -> GenerationReport:  # fmt: skip
    """Write the synthetic province for ``enterprises`` firms into ``out_dir``.

    ``bad_rows`` is the fraction F of each file's rows that are planted bad copies (each
    logged to ``bad_rows.jsonl``); ``fmt`` is ``csv`` or ``jsonl``; ``progress`` is called
    with 1 after each firm. Same arguments, same bytes.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"format is csv or jsonl, not {fmt!r}")
    if not 0.0 <= bad_rows <= 0.5:
        raise ValueError(f"bad_rows is a fraction in [0, 0.5], not {bad_rows}")
    if not 0 <= enterprises <= 10**8:  # the 8-digit organisation-code bodies run out
        raise ValueError(f"enterprises must be in 0..10^8, not {enterprises}")
    out_dir.mkdir(parents=True, exist_ok=True)
    province = _Province(seed)
    paths = {source: out_dir / f"{source}.{fmt}" for source in SOURCES}
    with ExitStack() as stack:

        def open_(path: Path) -> TextIO:  # surrogateescape lets GBK bytes through
            return stack.enter_context(path.open("w", encoding="utf-8", errors="surrogateescape",
                                                 newline=""))  # fmt: skip

        bad = _BadRows(open_(out_dir / "bad_rows.jsonl"), bad_rows, seed)
        writers = {s: _Writer(open_(p), s, fmt, bad) for s, p in paths.items()}
        for index in range(enterprises):
            for source, rows in province.firm(index).items():
                for row in rows:
                    writers[source].write(row)
            if progress is not None:
                progress(1)
    return GenerationReport(enterprises=enterprises, seed=seed, format=fmt, paths=paths,
                            rows={s: w.rows for s, w in writers.items()}, bad_rows=bad.count,
                            bad_rows_path=out_dir / "bad_rows.jsonl")  # fmt: skip


def firm_rows(seed: int, start: int = 0) -> Iterator[dict[str, list[dict[str, str]]]]:
    """The rows of firms ``start``, ``start + 1``, ... of province ``seed``, without end.

    The same firms :func:`generate` writes for that seed (no bad rows), one firm at a time:
    ``{source: [row, ...]}``, each row with every column of :data:`COLUMNS` (blank =
    absent), as a file reader would give them. ``zjcredit demo`` loads the first N firms
    from files, then keeps new firms coming from here.
    """
    province = _Province(seed)
    for index in itertools.count():
        rows = province.firm(index)
        if index >= start:
            yield {source: [{c: row.get(c, "") for c in COLUMNS[source]} for row in found]
                   for source, found in rows.items()}  # fmt: skip


@click.command("generate")
@click.option("--enterprises", type=click.IntRange(0, 10**8), required=True, help="Firms to make.")
@click.option("--seed", type=int, required=True, help="Same seed, same bytes.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the files (created).")  # fmt: skip
@click.option("--bad-rows", type=click.FloatRange(0.0, 0.5), default=0.0, show_default=True,
              help="Fraction of each file's rows planted bad (see bad_rows.jsonl).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)  # fmt: skip
def generate_command(enterprises: int, seed: int, out_dir: Path, bad_rows: float, fmt: str) -> None:
    """Write a synthetic province: enterprise, tax, trademark, blacklist and patent files."""
    with tqdm(total=enterprises, unit="firm", desc="generate", file=sys.stderr) as bar:
        report = generate(enterprises, seed, out_dir, bad_rows, fmt, progress=bar.update)
    for source in SOURCES:
        click.echo(f"{report.paths[source]}  {report.rows[source]} rows")
    click.echo(f"{report.bad_rows_path}  {report.bad_rows} bad rows")
