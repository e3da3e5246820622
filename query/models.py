"""The API's response bodies as pydantic models: they are the OpenAPI schema.

Handlers build these from the read model and answer with their JSON; schemathesis checks
every answer against the schema generated from them. Money is a decimal string (never a
float), dates ``YYYY-MM-DD``, times ISO 8601 UTC. docs/query.md shows each as JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiError",
    "Arrears",
    "AuditEntry",
    "Change",
    "ChangePage",
    "CreditLine",
    "EnterpriseSummary",
    "ErrorDetail",
    "Factor",
    "Health",
    "HistoryEvent",
    "IngestSummary",
    "ListingItem",
    "LookupRequest",
    "LookupResult",
    "MalformedCode",
    "Page",
    "PenaltyItem",
    "PriorityItem",
    "Profile",
    "ProfileListing",
    "ProfileMeasure",
    "RegistryConfig",
    "RegistryLookup",
    "RegistrySchema",
    "RegistrySubjectVersion",
    "SchemaById",
    "Stats",
    "TaxGradeEntry",
    "TaxPaid",
    "TrademarkSummary",
    "Watchlist",
    "WatchlistItem",
    "WatchlistRequest",
    "Zjtx",
]

Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["1835852.55"])]
Grade = Literal["EXCELLENT", "GOOD", "FAIR", "POOR"]
TaxGrade = Literal["A", "B", "M", "C", "D"]
RoleName = Literal["public", "bank", "department", "admin"]
ZjtxLevel = Literal["PROVINCIAL", "NATIONAL"]
T = TypeVar("T")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorDetail(_Model):
    field: str
    rule: str
    message: str


class ApiError(_Model):
    """Every error answer, on every path."""

    status: int
    error: str = Field(description="stable snake_case code, e.g. invalid_credit_code")
    error_code: int = Field(description="Confluent Schema Registry style code, e.g. 40403")
    message: str
    details: list[ErrorDetail]


class Zjtx(_Model):
    level: ZjtxLevel
    year: int
    active: bool


class Factor(_Model):
    code: str
    label: str
    points: int
    facts: str | None = Field(description="null where they quote amounts the role may not see")


class TaxGradeEntry(_Model):
    year: int
    grade: TaxGrade
    score: str | None = Field(description="the tax bureau's evaluation; null for the public")
    direct_judgement: bool
    repaired: bool


class TrademarkSummary(_Model):
    registered: int
    well_known: int
    active_pledges: int
    pledged_amount: Money
    infringement_penalties: int


class PatentSummary(_Model):
    """Patents in force by kind: public (the office publishes grants)."""

    invention: int
    utility_model: int
    design: int


class PatentPledge(_Model):
    pledge_no: str
    pledgee: str | None
    secured_amount: Money | None = Field(description="the whole pledge's, whatever it covers")
    pledge_from: dt.date | None
    pledge_until: dt.date | None


class Patent(_Model):
    patent_no: str
    patent_kind: Literal["INVENTION", "UTILITY_MODEL", "DESIGN"] | None
    title: str | None
    application_date: dt.date | None
    grant_date: dt.date | None
    term_ends_on: dt.date | None
    status: Literal["IN_FORCE", "LAPSED", "EXPIRED", "INVALIDATED", "TRANSFERRED_OUT"]
    transferred_from: str | None
    transferred_to: str | None
    invalidation_decision_no: str | None
    partially_invalidated: bool
    pledges: list[PatentPledge] = Field(description="active pledges covering it")


class IpPledge(_Model):
    """For an IP-pledge loan: trademark and patent pledges together."""

    active_pledge_count: int
    secured_amount: Money
    pledgeable_trademarks: list[str] = Field(description="marks in force, not pledged")
    pledgeable_patents: list[str] = Field(description="patents in force, not pledged")


class ProfileListing(_Model):
    sector: str
    sector_name: str
    decision_no: str
    department: str
    department_name: str
    listed_on: dt.date
    planned_end_on: dt.date | None
    reason: str | None


class ProfileMeasure(_Model):
    sector: str
    decision_no: str
    measure_code: str
    measure: str
    department: str
    department_name: str


class TaxPaid(_Model):
    year: int
    amount: Money


class Arrears(_Model):
    outstanding: Money
    overdue_since: dt.date | None


class CreditLine(_Model):
    eligible: bool
    amount: Money | None
    multiple: str | None
    rate_tier: str | None
    reason: str | None


class Profile(_Model):
    """``GET /v1/enterprises/{uscc}``: one enterprise's credit profile, as the role sees it."""

    uscc: str
    name: str | None
    status: str
    city_code: str | None
    city: str | None
    district_code: str | None
    industry_section: str | None
    industry_code: str | None
    size_class: str | None
    established_on: dt.date | None
    zjtx: Zjtx | None
    score: int | None = Field(description="0-1000; null for the public (docs/query.md)")
    grade: Grade
    grade_zh: str
    rules_version: str
    factors: list[Factor]
    tax_grade: TaxGrade | None
    tax_grades: list[TaxGradeEntry]
    trademarks: TrademarkSummary
    patents: PatentSummary
    patent_holdings: list[Patent] | None = Field(
        description="bank, department, admin; else null. Patents held or once held"
    )
    ip_pledge: IpPledge | None = Field(
        description="bank, department, admin; else null; null too when no mark, patent or "
        "pledge is known"
    )
    blacklist: list[ProfileListing]
    penalties: list[ProfileMeasure]
    tax_paid: list[TaxPaid] | None = Field(description="bank, department, admin; else null")
    arrears: Arrears | None = Field(description="bank, department, admin; else null")
    credit_line: CreditLine | None = Field(description="bank, department, admin; else null")
    as_of: dt.date
    updated_at: dt.datetime
    version: int
    role: RoleName
    hidden: list[str] = Field(description="fields null because the role may not see them")


class LookupRequest(_Model):
    """The body of ``POST /v1/enterprises/lookup``."""

    codes: list[str] = Field(
        description="credit codes, at most 1000 (query/lookup.py LOOKUP_MAX)",
        json_schema_extra={"maxItems": 1000},
        examples=[["91330100716105852F"]],
    )


class MalformedCode(_Model):
    uscc: str = Field(description="the code as sent")
    rule: str = Field(description="the failed rule of schemas/uscc.py, e.g. check_char")
    message: str


class LookupResult(_Model):
    """``POST /v1/enterprises/lookup``: the profiles found, as the role sees them."""

    profiles: list[Profile] = Field(description="in the order first asked, each code once")
    not_found: list[str] = Field(description="valid codes (normalised) with no enterprise")
    malformed: list[MalformedCode] = Field(description="in the order asked")
    role: RoleName


class EnterpriseSummary(_Model):
    uscc: str
    name: str | None
    status: str
    city_code: str | None
    city: str | None
    score: int | None = Field(description="0-1000; null for the public (docs/query.md)")
    grade: Grade
    grade_zh: str
    tax_grade: TaxGrade | None
    listed_sectors: list[str]
    zjtx_level: ZjtxLevel | None


class HistoryEvent(_Model):
    event_id: str
    source: str
    event_type: str
    department: str | None
    occurred_at: dt.datetime
    reported_at: dt.datetime
    payload: dict[str, Any]


class ListingItem(_Model):
    uscc: str
    name: str | None
    city_code: str | None
    city: str | None
    sector: str
    sector_name: str
    decision_no: str
    department: str
    department_name: str
    listed_on: dt.date
    planned_end_on: dt.date | None
    reason: str | None
    in_force: bool
    ended_on: dt.date | None
    ground: str | None


class PenaltyItem(_Model):
    uscc: str
    name: str | None
    sector: str
    sector_name: str
    decision_no: str
    measure_code: str
    measure: str
    department: str
    department_name: str


class PriorityItem(_Model):
    uscc: str
    name: str | None
    city_code: str | None
    city: str | None
    zjtx_level: ZjtxLevel
    score: int | None = Field(description="0-1000; null for the public (docs/query.md)")
    grade: Grade
    grade_zh: str
    tax_grade: TaxGrade | None
    listed_sectors: list[str]


class Page(_Model, Generic[T]):
    """One page of a list, in the route's stable order."""

    items: list[T]
    page: int
    size: int
    total: int = Field(description="matches; in a search, at most 1000 (see total_exact)")
    total_exact: bool = Field(
        default=True,
        description="false when a search found more than 1000 and total is that cap",
    )


class Stats(_Model):
    enterprises: int
    by_grade: dict[str, int]
    by_city: dict[str, int]
    by_tax_grade: dict[str, int] = Field(description="'none': not rated")
    by_sector: dict[str, int] = Field(description="listings in force per key sector")
    zjtx: dict[str, int]
    penalty_measures: int
    as_of: dt.date | None


class Health(_Model):
    status: Literal["ok"]
    database: Literal["up"]


class SchemaById(_Model):
    schema_: str = Field(alias="schema", description="the Avro schema as a JSON string")
    schemaType: Literal["AVRO"] = "AVRO"  # noqa: N815 - Confluent's field name


class RegistrySubjectVersion(_Model):
    subject: str
    version: int


class RegistrySchema(_Model):
    subject: str
    version: int
    id: int
    schema_: str = Field(alias="schema")
    schemaType: Literal["AVRO"] = "AVRO"  # noqa: N815 - Confluent's field name


class IngestSummary(_Model):
    """What became of an upload: ``zjcredit produce``'s summary, and the rejected rows."""

    source: str
    department: str = Field(description="the key's department: every row was sent for it")
    name: str | None = Field(description="the file name given with ?name=")
    bytes: int
    sha256: str = Field(description="of the body as received")
    encoding: str = Field(description="the text encoding it was read in (UTF-8, GB18030, ...)")
    sheet: str | None = Field(description="the workbook's sheet read, for an xlsx body")
    read: int
    sent: int
    acknowledged: int = Field(description="events Kafka acknowledged before this answer")
    rejected: int
    rejects_by_reason: dict[str, int]
    ignored_columns: list[str] = Field(description="columns no field of the schema reads")
    shared_columns: dict[str, list[str]] = Field(
        description="fields two columns fill (field -> columns): the later non-blank is used"
    )
    rejected_rows: list[dict[str, Any]] = Field(
        description="the first 1,000 rejected rows: line, reason, field, message, row"
    )
    rejected_rows_shown: int


class RegistryLookup(BaseModel):
    """``POST /subjects/{subject}``: the schema a client holds, as Confluent's clients send it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_: str = Field(alias="schema", max_length=65_536,
                         description="the Avro schema as a JSON string")  # fmt: skip
    schemaType: str = "AVRO"  # noqa: N815 - Confluent's field name
    references: list[dict[str, Any]] = Field(default_factory=list, max_length=0)


class RegistryConfig(_Model):
    compatibilityLevel: Literal["BACKWARD"] = "BACKWARD"  # noqa: N815 - Confluent's field name


class AuditEntry(_Model):
    """One read by a key of what the public does not see (``access.audit``)."""

    at: dt.datetime
    key_id: str = Field(description="the key's public id (`zjcredit keys list`)")
    role: Literal["bank", "department", "admin"]
    route: str = Field(description="the route's template, e.g. /v1/enterprises/{uscc}")
    uscc: str | None


class WatchlistRequest(_Model):
    """The body of ``PUT /v1/watchlist``: the key's whole new list."""

    codes: list[str] = Field(
        description="credit codes, at most 10000 (query/watchlist.py WATCHLIST_MAX)",
        json_schema_extra={"maxItems": 10_000},
        examples=[["91330100716105852F"]],
    )


class WatchlistItem(_Model):
    uscc: str
    name: str | None = Field(description="null while the read model does not know the code")
    added_at: dt.datetime


class Watchlist(_Model):
    """``GET /v1/watchlist``: the codes the key watches, in the order added."""

    count: int
    items: list[WatchlistItem]


ChangeValue = str | int | bool | list[str] | None


class Change(_Model):
    """One change of a watched enterprise (sink/changes.py says what each kind is)."""

    cursor: str = Field(description="resume after this change: GET /v1/changes?since=<cursor>")
    uscc: str
    name: str | None
    kind: Literal["grade", "score_band", "listed", "lifted", "escalated", "tax_grade",
                  "credit_line_refused"]  # fmt: skip
    before: ChangeValue
    after: ChangeValue
    detail: dict[str, Any] | None = Field(
        description="a notice's id, decision number, department and reason"
    )
    reported_at: dt.datetime = Field(description="when the department reported its cause")
    changed_at: dt.datetime = Field(description="when the read model recorded it")


class ChangePage(_Model):
    """``GET /v1/changes``: the next changes of the watched enterprises, in order."""

    items: list[Change]
    next: str = Field(description="the cursor to send as since= for the changes after these")
