"""The ``/v1`` routes: profiles, bulk lookup, search, history, blacklist, penalties,
专精特新, stats.

Handlers check their parameters (credit codes with the project's validator, cities,
sectors and departments against the catalogs), read through query/reads.py and answer
with the JSON of a response model. They answer a ready ``Response`` so that FastAPI
does not encode the body a second time; the ``response_model`` still makes the schema.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel

from query import reads
from query.access import Caller, HistoryReader, presented_key
from query.audit import key_id_of
from query.bounds import name_text, page_offset
from query.errors import InvalidParameter, NotFound
from query.exports import EXPORT_RESPONSES, FormatParam, export
from query.lookup import LOOKUP_MAX, lookup_view, split_codes
from query.models import (
    ApiError,
    EnterpriseSummary,
    HistoryEvent,
    ListingItem,
    LookupRequest,
    LookupResult,
    Page,
    PenaltyItem,
    PriorityItem,
    Profile,
    Stats,
)
from query.roles import Role, profile_view, summary_view
from query.services import Services, services_of
from schemas.errors import InvalidCreditCode
from schemas.sectors import load_catalog
from schemas.uscc import ZHEJIANG_CITIES, validate

__all__ = [
    "ERRORS",
    "PROFILE_CACHE",
    "credit_code",
    "etag_matches",
    "json_response",
    "profile_answer",
    "profile_etag",
    "router",
    "search_json",
]

PROFILE_CACHE = "private, no-cache"
"""A profile may be kept by the caller's own cache, and is revalidated by its ETag."""

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiError, "description": text}
    for status, text in (
        (401, "the API key is unknown or revoked"),
        (403, "the role may not use this route"),
        (404, "no such enterprise"),
        (422, "a malformed credit code or parameter"),
        (429, "over the key's or the address's rate limit; Retry-After says when to retry"),
        (503, "PostgreSQL is unavailable"),
    )
}
_CITY_NAMES = {
    alias: code for code, (zh, en) in ZHEJIANG_CITIES.items() for alias in (code, zh, en.lower())
}
_CATALOG = load_catalog()

router = APIRouter(prefix="/v1", responses=ERRORS)
_Q_HELP = "name substring (3 letters or digits in a row at least), or a whole credit code"
LOOKUP_ROUTE = "/v1/enterprises/lookup"

Size = Annotated[int, Query(ge=1, le=100, description="items per page")]
PageNo = Annotated[int, Query(ge=1, le=10_000, description="page number, from 1")]
Uscc = Annotated[str, Path(description="unified social credit code (18 characters)")]
City = Annotated[
    str | None,
    Query(description="city code (330100) or name (杭州, Hangzhou)",
          json_schema_extra={"enum": sorted(_CITY_NAMES)}),
]  # fmt: skip
Sector = Annotated[
    str | None,
    Query(description="key-sector code", json_schema_extra={"enum": list(_CATALOG.sectors)}),
]
Department = Annotated[
    str | None,
    Query(description="department code", json_schema_extra={"enum": list(_CATALOG.departments)}),
]


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(
        model.model_dump_json(by_alias=True), status_code, media_type="application/json"
    )


def _page(item: type[BaseModel], items: list[dict[str, Any]], page: int, size: int,
          total: int) -> Response:  # fmt: skip
    body = {"items": items, "page": page, "size": size, "total": total}
    return json_response(Page[item].model_validate(body))  # type: ignore[valid-type]


def credit_code(raw: str, field: str = "uscc") -> str:
    """The normalised code; 422 ``invalid_credit_code`` naming the failed rule."""
    try:
        return validate(raw).code
    except InvalidCreditCode as error:
        raise InvalidParameter.one(
            field, error.reason, str(error), error="invalid_credit_code", error_code=42201
        ) from None


def _city(raw: str | None) -> str | None:
    if raw is None:
        return None
    code = _CITY_NAMES.get(raw.strip().lower())
    if code is None:
        raise InvalidParameter.one(
            "city", "enum", f"{raw!r} is not one of the 11 cities of Zhejiang (330100, 杭州, ...)"
        )
    return code


def _member(field: str, raw: str | None, known: Any) -> str | None:
    if raw is not None and raw not in known:
        raise InvalidParameter.one(field, "enum", f"{raw!r} is not one of {', '.join(known)}")
    return raw


@router.get(
    "/enterprises/{uscc}",
    response_model=Profile,
    summary="An enterprise's profile",
    responses={304: {"description": "not modified: If-None-Match holds the profile's ETag"}},
)
async def enterprise(request: Request, uscc: Uscc, role: Caller) -> Response:
    # In the service, query/fastpath.py answers this route before FastAPI sees it, with
    # the same profile_answer; this handler is the route's schema, and the answer when
    # the app runs without that layer.
    status, body, headers = await profile_answer(
        services_of(request), uscc, role, request.headers.get("if-none-match")
    )
    if status == 304:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def profile_etag(uscc: str, version: int, role: Role) -> str:
    """The profile's validator: its code, its version (one higher for every change the
    fold made) and the role that sees it (each role sees another body)."""
    return f'"{uscc}.{version}.{role.value}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` names ``etag`` (weak comparison, RFC 9110 13.1.2), or is ``*``."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


async def profile_answer(
    services: Services, uscc: str, role: Role, if_none_match: str | None
) -> tuple[int, bytes, dict[str, str]]:
    """``(status, body, headers)`` of the profile route for ``uscc`` (as sent: normalised
    and validated here) as ``role`` sees it: 200 with the profile and its ``ETag``, or 304
    without a body when ``if_none_match`` names the stored version's ETag (then only the
    version is read). 422 for a malformed code, 404 for an unknown one.

    The body is ``profile_view`` of the stored jsonb, dumped by orjson and not validated
    again by the ``Profile`` model: the sink wrote that jsonb from the pure core's render,
    and tests/unit/query/test_views.py checks that every role's view of such profiles is
    the model's own JSON.
    """
    code = credit_code(uscc)
    if if_none_match:
        version = await reads.profile_version(services.db, code)
        if version is None:
            raise NotFound(f"no enterprise with credit code {code}")
        etag = profile_etag(code, version, role)
        if etag_matches(if_none_match, etag):
            return 304, b"", {"etag": etag, "cache-control": PROFILE_CACHE}
    stored = await reads.profile(services.db, code)
    if stored is None:
        raise NotFound(f"no enterprise with credit code {code}")
    body = orjson.dumps(profile_view(stored, role, services.catalog))
    etag = profile_etag(code, stored["version"], role)
    return 200, body, {"etag": etag, "cache-control": PROFILE_CACHE}


@router.post(
    LOOKUP_ROUTE.removeprefix("/v1"),
    response_model=LookupResult,
    summary=f"Profiles of up to {LOOKUP_MAX} credit codes, as the role sees them",
    responses={400: {"model": ApiError, "description": "the body is not JSON"}},
)
async def lookup(request: Request, body: Annotated[LookupRequest, Body()],
                 role: Caller) -> Response:  # fmt: skip
    if len(body.codes) > LOOKUP_MAX:
        raise InvalidParameter.one(
            "codes", "max_items",
            f"at most {LOOKUP_MAX} credit codes per request, not {len(body.codes)}: send them "
            f"in parts",
        )  # fmt: skip
    services = services_of(request)
    codes, malformed = split_codes(body.codes)
    stored = await reads.profiles(services.db, codes) if codes else {}
    view = lookup_view(codes, malformed, stored, role, services.catalog)
    if role is not Role.PUBLIC:  # a bank's bulk read is a read of each profile found
        headers = request.headers
        key = presented_key(headers.get("x-api-key"), headers.get("authorization"))
        request.app.state.audit.record_many(
            key_id_of(key or ""), role, LOOKUP_ROUTE, sorted(stored)
        )
    return Response(orjson.dumps(view), media_type="application/json")


@router.get("/enterprises", response_model=Page[EnterpriseSummary], summary="Search enterprises",
            responses=EXPORT_RESPONSES)  # fmt: skip
async def search(
    request: Request,
    *,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=50, description=_Q_HELP),
    ] = None,
    city: City = None,
    grade: Literal["EXCELLENT", "GOOD", "FAIR", "POOR"] | None = None,
    sector: Sector = None,
    page: PageNo = 1,
    size: Size = 20,
    fmt: FormatParam = "json",
    role: Caller,
) -> Response:
    # query/fastpath.py answers this route too when every parameter is plainly valid (and
    # no format is asked).
    services = services_of(request)
    if fmt != "json":
        filters = _search_filters(q=q, city=city, grade=grade, sector=sector)
        cap = services.export_rows
        return await export(services.exports, "enterprises", fmt, EnterpriseSummary,
                            lambda: _seen(reads.all_matches(services.db, **filters, cap=cap),
                                          role))  # fmt: skip
    body = await search_json(services, q=q, city=city, grade=grade, sector=sector,
                             page=page, size=size, role=role)  # fmt: skip
    return Response(body, media_type="application/json")


async def search_json(services: Services, *, q: str | None, city: str | None,
                      grade: str | None, sector: str | None, page: int, size: int,
                      role: Role) -> bytes:  # fmt: skip
    """A search's page as JSON as ``role`` sees it, from parameters of the types and ranges
    the route declares (checked by FastAPI, or by the fast path); 422 for a text, city or
    sector it refuses."""
    filters = _search_filters(q=q, city=city, grade=grade, sector=sector)
    items, total, exact = await reads.search(
        services.db, **filters, limit=size, offset=page_offset(page, size)
    )
    items = [summary_view(i, role) for i in items]
    body = {"items": items, "page": page, "size": size, "total": total, "total_exact": exact}
    return Page[EnterpriseSummary].model_validate(body).model_dump_json(by_alias=True).encode()


async def _seen(chunks: reads.Chunks, role: Role) -> reads.Chunks:
    """An export's list items as ``role`` sees them; closing it closes ``chunks`` (which
    ends its transaction)."""
    try:
        async for chunk in chunks:
            yield [summary_view(i, role) for i in chunk]
    finally:
        await chunks.aclose()


def _search_filters(*, q: str | None, city: str | None, grade: str | None,
                    sector: str | None) -> dict[str, Any]:  # fmt: skip
    """reads.search's filters from the route's parameters; 422 for a text, city or sector
    it refuses."""
    text = name_text(q)
    uscc = None
    if text is not None and len(text) == 18 and text.isascii():
        # A whole credit code is looked up as a code, not as a name.
        with contextlib.suppress(InvalidCreditCode):
            uscc, text = validate(text).code, None
    return {"q": text, "uscc": uscc, "city": _city(city), "grade": grade,
            "sector": _member("sector", sector, _CATALOG.sectors)}  # fmt: skip


@router.get(
    "/enterprises/{uscc}/history",
    response_model=Page[HistoryEvent],
    summary="An enterprise's event history, newest first (department, admin)",
)
async def history(
    request: Request, uscc: Uscc, role: HistoryReader, page: PageNo = 1, size: Size = 20
) -> Response:
    db = services_of(request).db
    code = credit_code(uscc)
    items, total = await reads.history(db, code, limit=size, offset=page_offset(page, size))
    if not items and not await reads.enterprise_exists(db, code):
        raise NotFound(f"no enterprise with credit code {code}")
    return _page(HistoryEvent, items, page, size, total)


@router.get("/blacklist", response_model=Page[ListingItem], summary="Key-sector listings",
            responses=EXPORT_RESPONSES)  # fmt: skip
async def blacklist(
    request: Request,
    *,
    sector: Sector = None,
    city: City = None,
    active: Annotated[bool, Query(description="true: in force; false: ended")] = True,
    page: PageNo = 1,
    size: Size = 20,
    fmt: FormatParam = "json",
    role: Caller,
) -> Response:
    services = services_of(request)
    filters: dict[str, Any] = {
        "sector": _member("sector", sector, _CATALOG.sectors), "city": _city(city),
        "active": active,
    }  # fmt: skip
    db, catalog = services.db, services.catalog
    if fmt != "json":
        return await export(services.exports, "blacklist", fmt, ListingItem,
                            lambda: reads.all_listings(db, catalog, **filters,
                                                       cap=services.export_rows))  # fmt: skip
    items, total = await reads.listings(
        db, catalog, **filters, limit=size, offset=page_offset(page, size)
    )
    return _page(ListingItem, items, page, size, total)


@router.get(
    "/penalties",
    response_model=Page[PenaltyItem],
    summary="Joint-penalty checklist: measures in force, by department or enterprise",
    responses=EXPORT_RESPONSES,
)
async def penalties(
    request: Request,
    *,
    department: Department = None,
    uscc: Annotated[str | None, Query(description="only this enterprise")] = None,
    page: PageNo = 1,
    size: Size = 20,
    fmt: FormatParam = "json",
    role: Caller,
) -> Response:
    services = services_of(request)
    filters: dict[str, Any] = {
        "department": _member("department", department, _CATALOG.departments),
        "uscc": credit_code(uscc) if uscc is not None else None,
    }
    db, catalog = services.db, services.catalog
    if fmt != "json":
        return await export(services.exports, "penalties", fmt, PenaltyItem,
                            lambda: reads.all_penalties(db, catalog, **filters,
                                                        cap=services.export_rows))  # fmt: skip
    items, total = await reads.penalties(
        db, catalog, **filters, limit=size, offset=page_offset(page, size)
    )
    return _page(PenaltyItem, items, page, size, total)


@router.get(
    "/priority", response_model=Page[PriorityItem], summary="专精特新 enterprises and grades"
)
async def priority(
    request: Request,
    *,
    city: City = None,
    level: Literal["PROVINCIAL", "NATIONAL"] | None = None,
    page: PageNo = 1,
    size: Size = 20,
    role: Caller,
) -> Response:
    items, total = await reads.priority(
        services_of(request).db, city=_city(city), level=level, limit=size,
        offset=page_offset(page, size), by_score=role.sees_score,
    )  # fmt: skip
    return _page(PriorityItem, [summary_view(i, role) for i in items], page, size, total)


@router.get("/stats", response_model=Stats, summary="Counts by grade, city, tax grade, sector")
async def stats(request: Request, role: Caller) -> Response:
    # Counting the whole read model costs seconds at a million firms: the answer is kept
    # and made again at most every stats_ttl seconds (query/cache.py).
    services = services_of(request)

    async def make() -> bytes:
        counted = await reads.stats(services.db, services.catalog)
        return Stats.model_validate(counted).model_dump_json(by_alias=True).encode()

    body = await services.stats.get(make)
    fresh_for = max(0, int(services.stats.ttl - services.stats.age()))
    return Response(body, media_type="application/json",
                    headers={"cache-control": f"private, max-age={fresh_for}"})  # fmt: skip
