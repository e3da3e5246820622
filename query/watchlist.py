"""``/v1/watchlist``: the credit codes a key watches, whose changes ``GET /v1/changes``
returns to it (a bank's loan portfolio, a department's bidders).

Any valid key keeps one list (the public has none: 401). The list is kept in
``access.watchlist``, with the keys, so a rebuild of the read model keeps it; a code the
read model does not know yet may be watched (its name is null until it is known).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response

from query.access import Holder
from query.errors import InvalidParameter, NotFound
from query.lookup import split_codes
from query.models import ApiError, Watchlist, WatchlistItem, WatchlistRequest
from query.routes import ERRORS, credit_code, json_response
from query.services import Services, services_of

__all__ = ["WATCHLIST_MAX", "router"]

WATCHLIST_MAX = 10_000
"""Codes per key: a bank's portfolio; more is a bulk job, not a watchlist."""

router = APIRouter(prefix="/v1/watchlist", tags=["watchlist"],
                   responses={k: v for k, v in ERRORS.items() if k != 404})  # fmt: skip

_LIST = """
select w.uscc, e.name, w.added_at from access.watchlist w
left join credit.enterprise e on e.uscc = w.uscc
where w.key_id = $1 order by w.added_at, w.uscc
"""
_ONE = """
select w.uscc, e.name, w.added_at from access.watchlist w
left join credit.enterprise e on e.uscc = w.uscc
where w.key_id = $1 and w.uscc = $2
"""
_ADD = """
insert into access.watchlist (key_id, uscc) select $1, unnest($2::text[])
on conflict do nothing
"""
_FULL = "select count(*) >= $2 from access.watchlist where key_id = $1 and uscc <> $3"
_REMOVE = "delete from access.watchlist where key_id = $1 and uscc = $2"
_KEEP_ONLY = "delete from access.watchlist where key_id = $1 and uscc <> all($2::text[])"
_CLEAR = "delete from access.watchlist where key_id = $1"
_NO_STORE = {"cache-control": "no-store"}  # a key's own list, changed by its holder
Uscc = Annotated[str, Path(description="unified social credit code (18 characters)")]


async def _watchlist(services: Services, key_id: str) -> Response:
    rows = await services.db.fetch(_LIST, key_id)
    items = [WatchlistItem(uscc=r["uscc"], name=r["name"], added_at=r["added_at"]) for r in rows]
    answer = json_response(Watchlist(count=len(items), items=items))
    answer.headers.update(_NO_STORE)
    return answer


@router.get("", response_model=Watchlist, summary="The codes the key watches")
async def get_watchlist(request: Request, holder: Holder) -> Response:
    return await _watchlist(services_of(request), holder.key_id)


@router.put(
    "",
    response_model=Watchlist,
    summary="Replace the key's whole watchlist",
    responses={400: {"model": ApiError, "description": "the body is not JSON"}},
)
async def put_watchlist(request: Request, holder: Holder,
                        body: Annotated[WatchlistRequest, Body()]) -> Response:  # fmt: skip
    if len(body.codes) > WATCHLIST_MAX:
        raise InvalidParameter.one(
            "codes", "max_items",
            f"a watchlist holds at most {WATCHLIST_MAX} credit codes, not {len(body.codes)}",
        )  # fmt: skip
    codes, malformed = split_codes(body.codes)
    if malformed:  # nothing is saved: the list is replaced whole or not at all
        raise InvalidParameter(
            f"{len(malformed)} of the codes are malformed; the watchlist is unchanged",
            details=[{"field": "codes", "rule": m["rule"], "message": f"{m['uscc']}: "
                      f"{m['message']}"} for m in malformed[:100]],
        )  # fmt: skip
    services = services_of(request)
    async with services.db.connection() as conn, conn.transaction():
        # The codes kept keep their added_at: a portfolio re-sent whole is not re-added.
        await conn.execute(_KEEP_ONLY, holder.key_id, codes)
        await conn.execute(_ADD, holder.key_id, codes)
    return await _watchlist(services, holder.key_id)


@router.delete("", status_code=204, summary="Empty the key's watchlist")
async def clear_watchlist(request: Request, holder: Holder) -> Response:
    await services_of(request).db.fetchval(_CLEAR, holder.key_id)
    return Response(status_code=204, headers=_NO_STORE)


@router.put("/{uscc}", response_model=WatchlistItem, summary="Watch one more code")
async def watch(request: Request, holder: Holder, uscc: Uscc) -> Response:
    code = credit_code(uscc)
    services = services_of(request)
    async with services.db.connection() as conn, conn.transaction():
        if await conn.fetchval(_FULL, holder.key_id, WATCHLIST_MAX, code):
            raise InvalidParameter.one(
                "uscc", "max_items", f"the watchlist holds {WATCHLIST_MAX} codes already: "
                "remove some first", error="watchlist_full",
            )  # fmt: skip
        await conn.execute(_ADD, holder.key_id, [code])
        row = await conn.fetchrow(_ONE, holder.key_id, code)
    assert row is not None  # added in this transaction, or there already
    answer = json_response(WatchlistItem(uscc=row["uscc"], name=row["name"],
                                         added_at=row["added_at"]))  # fmt: skip
    answer.headers.update(_NO_STORE)
    return answer


_NOT_WATCHED: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "the code is not watched"}
}


@router.delete("/{uscc}", status_code=204, summary="Stop watching a code", responses=_NOT_WATCHED)
async def unwatch(request: Request, holder: Holder, uscc: Uscc) -> Response:
    code = credit_code(uscc)
    status = await services_of(request).db.fetchval(
        _REMOVE + " returning true", holder.key_id, code
    )
    if not status:
        raise NotFound(f"{code} is not on this key's watchlist")
    return Response(status_code=204, headers=_NO_STORE)
