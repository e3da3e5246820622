"""The synthetic province's patents: which firms hold them, and each patent's facts.

Called by the generator (producers/generator.py) once per firm with a random stream of its
own, so adding patents changed no row of the other sources. Every share and delay below is
a **synthetic estimate** (no source gives Zhejiang's patent holders); the rules are those
of docs/patents.md:

- kinds: utility models are most of a small firm's patents, then designs, then inventions;
- grant: an invention is examined for years, a utility model or design in months;
- term from filing: invention 20 years, utility model and design 10 **[from memory]**, so
  none ends before the synthetic horizon (2018); a patent can lapse for an unpaid annuity
  and, now and then, be restored;
- 专精特新 firms (their grant is in the enterprise file) hold patents far more often;
- a transfer goes to an earlier firm of the province, and is sent under both codes;
- a pledge secures a bank loan for 1-3 years, as trademark pledges do in the generator.

Example::

    maker = PatentMaker(random.Random("zjcredit-patents:1"))
    for fact in maker.facts(holder):   # holder: the generator's view of one firm
        ...                            # (firm, day, event_type, {column: text})
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from producers.names import BANKS
from schemas.patent_no import KIND_DIGITS, check_character

__all__ = ["PLEDGE_NO_PREFIX", "Holder", "PatentFact", "PatentMaker"]

# Share of firms holding any patent, by size (synthetic estimate), times the section's factor
# (manufacturing, IT and research file the most), or ZJTX_HOLDERS for a 专精特新 firm.
HOLDERS = {"MICRO": 0.03, "SMALL": 0.10, "MEDIUM": 0.25, "LARGE": 0.5}
SECTION_FACTOR = {"C": 2.0, "I": 1.6, "M": 2.5}
OTHER_SECTIONS = 0.4
ZJTX_HOLDERS = 0.9
COUNTS = {1: 40, 2: 25, 3: 15, 5: 10, 8: 6, 12: 4}
KINDS = {"1": 0.2, "2": 0.55, "3": 0.25}  # kind digit: invention, utility model, design
GRANT_DAYS = {"1": (600, 1500), "2": (150, 400), "3": (120, 300)}
LAPSE_RATE, RESTORE_RATE = 0.15, 0.1  # per patent: annuity unpaid; restored on request
TRANSFER_RATE, PLEDGE_RATE, PLEDGE_RELEASE = 0.03, 0.02, 0.5
INVALIDATION_RATE, PARTIAL_SHARE = 0.005, 0.4
NEW_FORM = dt.date(2003, 10, 1)  # the 12-digit application numbers (schemas/patent_no.py)
FIRST_FILING = dt.date(1990, 1, 1)
PLEDGE_NO_PREFIX = "ZX"  # synthetic: the real pledge numbers' form is not known
# Yuan secured by one patent pledge, by size (synthetic: of the order of a small bank loan).
PLEDGE_AMOUNT = {"MICRO": 3e5, "SMALL": 1e6, "MEDIUM": 5e6, "LARGE": 2e7}
_SUBJECTS = {
    "C": ("电机", "阀门", "轴承", "纺织机", "注塑模具", "紧固件", "泵体", "减速器", "包装机"),
    "I": ("数据处理", "图像识别", "网络通信", "信息推送", "身份认证", "存储调度"),
    "M": ("检测", "催化剂制备", "材料改性", "环境监测", "试验装置"),
}
_NATIONAL_BANKS = frozenset({"中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行",
                             "招商银行"})  # fmt: skip
_GENERIC = ("收纳架", "灯具", "包装盒", "清洁装置", "连接件", "支架")
_INVENTION = ("一种{s}方法", "一种{s}系统及方法", "{s}装置的控制方法")
_UTILITY = ("一种{s}", "一种新型{s}", "一种{s}的固定结构")
_DESIGN = ("{s}（{n}）", "{s}外观")


class Holder(Protocol):
    """What the maker reads of a firm (the generator's ``_Firm`` has these)."""

    uscc: str
    section: str
    size: str
    entity_type: str
    established: dt.date
    end: dt.date
    zjtx_year: int | None


@dataclass(frozen=True)
class PatentFact:
    """One patent row to write: under ``holder``'s code, on ``day``."""

    holder: Holder
    day: dt.date
    event_type: str
    fields: Mapping[str, str]


class PatentMaker:
    """Makes each firm's patents from one random stream; numbers unique per year and kind."""

    def __init__(self, rng: random.Random, horizon: dt.date) -> None:
        self.rng, self.horizon = rng, horizon
        self.serials: dict[tuple[int, str], int] = {}
        self.pledges = 0
        self.transferees: list[Holder] = []  # recent live firms, for transfers to go to
        self._counts = (list(COUNTS), list(itertools.accumulate(COUNTS.values())))

    def facts(self, firm: Holder) -> list[PatentFact]:
        """The patent rows of ``firm`` (and of the firms its patents are transferred to)."""
        r, out = self.rng, []
        share = HOLDERS[firm.size] * SECTION_FACTOR.get(firm.section, OTHER_SECTIONS)
        if firm.zjtx_year is not None:
            share = ZJTX_HOLDERS
        lo = max(firm.established + dt.timedelta(days=90), FIRST_FILING)
        hi = self.horizon - dt.timedelta(days=120)
        if firm.entity_type == "91" and lo < hi and r.random() < share:
            keys, cumulative = self._counts
            count = keys[bisect.bisect(cumulative, r.random() * cumulative[-1])]
            for _ in range(count):
                out.extend(self._patent(firm, _day(r, lo, hi)))
        if firm.entity_type == "91" and firm.end >= self.horizon:
            self.transferees.append(firm)
            del self.transferees[:-500]
        return out

    def _number(self, filed: dt.date, digit: str) -> str | None:
        key = (filed.year, digit)
        n = self.serials.get(key) or self.rng.randint(1, 900)
        self.serials[key] = n + self.rng.randint(1, 20)
        if filed < NEW_FORM:  # 8 digits: year (2) + kind + serial (5)
            if n >= 100_000:
                return None
            body = f"{filed.year % 100:02d}{digit}{n:05d}"
        else:
            body = f"{filed.year}{digit}{n:07d}"
        return f"{body}.{check_character(body)}"

    def _patent(self, firm: Holder, filed: dt.date) -> list[PatentFact]:
        r = self.rng
        digit = _pick(r, KINDS)
        granted = filed + dt.timedelta(days=r.randint(*GRANT_DAYS[digit]))
        number = self._number(filed, digit)
        if number is None or granted > self.horizon:
            return []  # still pending at the horizon: no grant yet
        kind = KIND_DIGITS[digit]
        subject = r.choice(_SUBJECTS.get(firm.section, _GENERIC))
        pattern = r.choice({"1": _INVENTION, "2": _UTILITY, "3": _DESIGN}[digit])
        particulars = {"patent_no": number, "patent_kind": kind,
                       "title": pattern.format(s=subject, n=r.randint(1, 9)),
                       "application_date": filed.isoformat()}  # fmt: skip
        out = [PatentFact(firm, granted, "GRANTED",
                          {**particulars, "grant_date": granted.isoformat()})]  # fmt: skip
        after = granted + dt.timedelta(days=365)
        if after >= self.horizon:
            return out
        # One later fate at most: a lapse (maybe restored), a transfer, a pledge (half as
        # often for a micro firm) or an invalidation (not of designs: kept simple).
        pledge = PLEDGE_RATE if firm.size != "MICRO" else PLEDGE_RATE / 2
        roll = r.random()
        if roll < LAPSE_RATE:
            lapsed = _day(r, after, self.horizon)
            out.append(PatentFact(firm, lapsed, "LAPSED", {"patent_no": number}))
            restored = lapsed + dt.timedelta(days=r.randint(20, 60))
            if r.random() < RESTORE_RATE and restored <= self.horizon:
                out.append(PatentFact(firm, restored, "RESTORED", {"patent_no": number}))
        elif roll < LAPSE_RATE + TRANSFER_RATE:
            out.extend(self._transfer(firm, _day(r, after, self.horizon), particulars))
        elif roll < LAPSE_RATE + TRANSFER_RATE + pledge:
            out.extend(self._pledge(firm, _day(r, after, self.horizon), number))
        elif roll < LAPSE_RATE + TRANSFER_RATE + pledge + INVALIDATION_RATE and digit != "3":
            day = _day(r, after, self.horizon)
            fields = {"patent_no": number, "decision_no": f"第{r.randint(10_000, 99_999)}号",
                      "partial": "true" if r.random() < PARTIAL_SHARE else ""}  # fmt: skip
            out.append(PatentFact(firm, day, "INVALIDATED", fields))
        return out

    def _transfer(self, firm: Holder, day: dt.date,
                  particulars: Mapping[str, str]) -> list[PatentFact]:  # fmt: skip
        # To an earlier firm of the province, alive and established before the transfer.
        takers = [t for t in self.transferees if t.established < day and t.uscc != firm.uscc]
        if not takers or day > firm.end:
            return []
        taker = self.rng.choice(takers)
        both = {**particulars, "transferor_uscc": firm.uscc, "transferee_uscc": taker.uscc}
        return [PatentFact(firm, day, "TRANSFERRED_OUT", both),
                PatentFact(taker, day, "TRANSFERRED_IN", both)]  # fmt: skip

    def _pledge(self, firm: Holder, day: dt.date, number: str) -> list[PatentFact]:
        r = self.rng
        self.pledges += 1  # unique: pledge k takes a number in [7k, 7k + 6]
        pledge_no = f"{PLEDGE_NO_PREFIX}{day.year}33{self.pledges * 7 + r.randint(0, 6):07d}"
        until = _years_after(day, r.randint(1, 3)) - dt.timedelta(days=1)
        amount = round(PLEDGE_AMOUNT[firm.size] * r.lognormvariate(0, 0.6), -4)
        bank = r.choice(BANKS)  # a national bank lends through its provincial branch
        pledgee = f"{bank}浙江省分行" if bank in _NATIONAL_BANKS else bank
        out = [PatentFact(firm, day, "PLEDGE_REGISTERED", {
            "patent_no": number, "pledge_no": pledge_no, "pledgee": pledgee,
            "secured_amount": f"{amount:.2f}", "pledge_from": day.isoformat(),
            "pledge_until": until.isoformat()})]  # fmt: skip
        released = _day(r, day + dt.timedelta(days=180), until)
        if r.random() < PLEDGE_RELEASE and released <= self.horizon:
            fields = {"patent_no": number, "pledge_no": pledge_no}
            out.append(PatentFact(firm, released, "PLEDGE_RELEASED", fields))
        return out


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    keys, cumulative = list(weights), list(itertools.accumulate(weights.values()))
    return keys[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _day(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=int(rng.random() * ((hi - lo).days + 1)))


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
