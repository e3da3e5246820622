"""``GET /v1/audit``: the access audit, for admins (query/audit.py records it)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from query.access import Admin
from query.audit import audit_rows
from query.models import AuditEntry
from query.routes import ERRORS, credit_code
from query.services import Services

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERRORS)


@router.get(
    "/audit",
    response_model=list[AuditEntry],
    summary="Who read what the public does not see (admin)",
)
async def audit(
    request: Request,
    *,
    role: Admin,
    key: Annotated[str | None, Query(max_length=16, description="a key id")] = None,
    uscc: Annotated[str | None, Query(max_length=64, description="a credit code")] = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601, with an offset")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    services: Services = request.app.state.services
    code = credit_code(uscc) if uscc is not None else None
    async with services.db.connection() as conn:
        rows = await audit_rows(conn, key_id=key, uscc=code, since=since, limit=limit)
    body = [AuditEntry.model_validate(r).model_dump(mode="json") for r in rows]
    return Response(orjson.dumps(body), media_type="application/json")
