"""Who sees what: the four roles and the profile as each role sees it. Pure: no I/O.

| role       | key | sees                                                              |
|------------|-----|-------------------------------------------------------------------|
| public     | no  | identity, grade, tax grades, trademarks, patent counts by kind,   |
|            |     | blacklist, penalties, the factors of public facts                 |
| bank       | yes | + the score, tax amounts (tax paid, arrears) and their factors,   |
|            |     | the tax bureau's scores, the bank-tax credit line, the patents    |
|            |     | with their pledges and amounts, the ``ip_pledge`` summary         |
| department | yes | + the event history                                               |
| admin      | yes | everything                                                        |

Blacklists and penalties are public by policy (双公示); tax amounts are not. Nor may the
public learn them through the back door: a factor's points are a function of its facts
(``tax_paid``: ``int(15 log10(avg / 10000))`` gives the average tax paid within ~17%;
``arrears``: there are arrears), and the score is the sum of the points, every other
factor of which the public can recompute from public facts. So the public gets no
score, no factor built from hidden facts (:data:`HIDDEN_FACTORS`) and no tax-grade
evaluation score (the bureau publishes grades, not scores); an ordering by score is not
offered to it either (query/reads.py ``priority``). The grade stays public (Credit
Zhejiang publishes it). What it still tells: the hidden points lie within the grade's
band (178-420 points wide) less the public points, which bounds them only near a band's
edge (public points 650 and grade GOOD: tax paid adds at least 27, an average of at least
~630,000 yuan a year); docs/query.md says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from schemas.sectors import SectorCatalog
from schemas.uscc import ZHEJIANG_CITIES

__all__ = [
    "GRADE_ZH",
    "HIDDEN_FACTORS",
    "PUBLIC_HIDDEN",
    "Role",
    "city_name",
    "department_name",
    "profile_view",
    "sector_name",
    "summary_view",
]

GRADE_ZH = {"EXCELLENT": "优秀", "GOOD": "良好", "FAIR": "中等", "POOR": "较差"}
HIDDEN_FACTORS = frozenset({"tax_paid", "arrears"})
"""Scorecard factors (streams/core/scorecard.py) built from facts the public may not see:
tax amounts. The others come from registration, tax grades, trademarks, 专精特新 and
listings, all public."""
_TAX_FIELDS = ("tax_paid", "arrears", "credit_line")
_PLEDGE_FIELDS = ("patent_holdings", "ip_pledge")
PUBLIC_HIDDEN = ("score", *_TAX_FIELDS, *_PLEDGE_FIELDS)
"""What a public profile has null, in its ``hidden``; a public list item has no score."""


class Role(StrEnum):
    PUBLIC = "public"
    BANK = "bank"
    DEPARTMENT = "department"
    ADMIN = "admin"

    @property
    def sees_tax(self) -> bool:
        return self is not Role.PUBLIC

    @property
    def sees_score(self) -> bool:
        """The score, the factors of hidden facts, the tax bureau's scores."""
        return self is not Role.PUBLIC

    @property
    def sees_history(self) -> bool:
        return self in (Role.DEPARTMENT, Role.ADMIN)


def city_name(code: str | None) -> str | None:
    return ZHEJIANG_CITIES[code][0] if code in ZHEJIANG_CITIES else None


def sector_name(catalog: SectorCatalog, code: str) -> str:
    """The sector's Chinese name; its code if it is newer than this catalog."""
    sector = catalog.sectors.get(code)
    return sector.name_zh if sector is not None else code


def department_name(catalog: SectorCatalog, code: str) -> str:
    department = catalog.departments.get(code)
    return department.name_zh if department is not None else code


def profile_view(profile: Mapping[str, Any], role: Role, catalog: SectorCatalog) -> dict[str, Any]:
    """The API's profile (query/models.py ``Profile``) from the stored profile jsonb."""
    p = profile
    sees_tax = role.sees_tax
    factors = [f for f in p["factors"] if role.sees_score or f["code"] not in HIDDEN_FACTORS]
    tax_grades = p["tax_grades"] if role.sees_score else [
        {**g, "score": None} for g in p["tax_grades"]
    ]  # fmt: skip
    blacklist = [
        {
            **{k: x[k] for k in ("sector", "decision_no", "department", "listed_on")},
            "planned_end_on": x.get("planned_end_on"),
            "reason": x.get("reason"),
            "sector_name": sector_name(catalog, x["sector"]),
            "department_name": department_name(catalog, x["department"]),
        }
        for x in p["blacklist"]
    ]
    penalties = [
        {**x, "department_name": department_name(catalog, x["department"])} for x in p["penalties"]
    ]
    view: dict[str, Any] = {
        k: p.get(k)
        for k in ("uscc", "name", "status", "city_code", "district_code", "industry_section",
                  "industry_code", "size_class", "established_on", "zjtx", "score", "grade",
                  "rules_version", "tax_grade", "as_of", "updated_at", "version")
    }  # fmt: skip
    view.update(
        city=city_name(p.get("city_code")),
        grade_zh=GRADE_ZH[p["grade"]],
        factors=factors,
        tax_grades=tax_grades,
        trademarks={
            "registered": p["trademark_count"],
            "well_known": p["well_known_count"],
            "active_pledges": p["active_pledge_count"],
            "pledged_amount": p["pledged_amount"],
            "infringement_penalties": p["infringement_penalty_count"],
        },
        # A profile stored before v2 (issue 18) has no patent fields: none known yet.
        patents={
            "invention": p.get("invention_patent_count", 0),
            "utility_model": p.get("utility_model_patent_count", 0),
            "design": p.get("design_patent_count", 0),
        },
        blacklist=blacklist,
        penalties=penalties,
        role=role.value,
    )
    if sees_tax:
        view.update(
            tax_paid=p["tax_paid"],
            arrears={
                "outstanding": p["arrears_outstanding"],
                "overdue_since": p.get("arrears_overdue_since"),
            },
            credit_line=p.get("credit_line"),
            patent_holdings=p.get("patents", []),
            ip_pledge=p.get("ip_pledge"),
            hidden=[],
        )
    else:
        view.update(dict.fromkeys(PUBLIC_HIDDEN), hidden=list(PUBLIC_HIDDEN))
    return view


def summary_view(item: dict[str, Any], role: Role) -> dict[str, Any]:
    """A list item (``EnterpriseSummary``, ``PriorityItem``) as ``role`` sees it: the
    public's has no score."""
    return item if role.sees_score else {**item, "score": None}
