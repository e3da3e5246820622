"""Who sees what: the four roles and the profile as each role sees it. Pure: no I/O.

| role       | key | sees                                                            |
|------------|-----|-----------------------------------------------------------------|
| public     | no  | identity, score, grade, tax grade, trademarks, blacklist, penalties |
| bank       | yes | + tax amounts (tax paid, arrears) and the bank-tax credit line  |
| department | yes | + the event history                                             |
| admin      | yes | everything                                                      |

Blacklists and penalties are public by policy (双公示); tax amounts are not, so the
public role also gets the amounts in the scorecard's ``facts`` hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from schemas.sectors import SectorCatalog
from schemas.uscc import ZHEJIANG_CITIES

__all__ = [
    "GRADE_ZH",
    "Role",
    "city_name",
    "department_name",
    "profile_view",
    "sector_name",
]

GRADE_ZH = {"EXCELLENT": "优秀", "GOOD": "良好", "FAIR": "中等", "POOR": "较差"}
# Scorecard factors whose facts quote tax amounts (streams/core/scorecard.py).
_AMOUNT_FACTORS = frozenset({"tax_paid", "arrears"})
_TAX_FIELDS = ("tax_paid", "arrears", "credit_line")


class Role(StrEnum):
    PUBLIC = "public"
    BANK = "bank"
    DEPARTMENT = "department"
    ADMIN = "admin"

    @property
    def sees_tax(self) -> bool:
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
    factors = [
        {**f, "facts": f["facts"] if sees_tax or f["code"] not in _AMOUNT_FACTORS else None}
        for f in p["factors"]
    ]
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
                  "rules_version", "tax_grade", "tax_grades", "as_of", "updated_at", "version")
    }  # fmt: skip
    view.update(
        city=city_name(p.get("city_code")),
        grade_zh=GRADE_ZH[p["grade"]],
        factors=factors,
        trademarks={
            "registered": p["trademark_count"],
            "well_known": p["well_known_count"],
            "active_pledges": p["active_pledge_count"],
            "pledged_amount": p["pledged_amount"],
            "infringement_penalties": p["infringement_penalty_count"],
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
            hidden=[],
        )
    else:
        view.update(dict.fromkeys(_TAX_FIELDS), hidden=list(_TAX_FIELDS))
    return view
