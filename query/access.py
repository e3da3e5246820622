"""Who is calling: the API key of a request, as a role (FastAPI dependencies).

The key comes in ``X-API-Key`` or ``Authorization: Bearer``; none is the public role. An
unknown or revoked key is 401 on every route, public ones included, so that a mistyped
key never silently turns a bank into the public. Declared as OpenAPI security schemes
(not header parameters), so the docs page offers them and fuzzers leave them alone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from query.errors import Forbidden, Unauthorized
from query.keys import KeyHolder, holder_of_key, role_of_key
from query.roles import Role
from query.services import Services

__all__ = [
    "Admin",
    "Caller",
    "HistoryReader",
    "Holder",
    "Sender",
    "admin_only",
    "caller",
    "history_reader",
    "key_holder",
    "presented_key",
    "role_of",
    "sender",
]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
_bearer = HTTPBearer(auto_error=False, description="the same API key, as a bearer token")


async def caller(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Role:
    """The caller's role: public without a key; 401 for a key that is not valid."""
    key = api_key or (bearer.credentials if bearer is not None else None)
    services: Services = request.app.state.services
    return await role_of(services, key, request.headers.get("authorization"))


def presented_key(api_key: str | None, authorization: str | None) -> str | None:
    """The key as FastAPI's ``APIKeyHeader`` + ``HTTPBearer`` read it, for the routes that
    bypass them (query/fastpath.py): ``X-API-Key``, else the ``Bearer`` credentials."""
    if api_key:
        return api_key
    scheme, _, credentials = (authorization or "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return None


async def role_of(services: Services, key: str | None, authorization: str | None) -> Role:
    """The role of ``key`` (None: public); 401 for a key that is not valid, or an
    ``Authorization`` header that carries none."""
    if not key:
        if authorization:
            raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
        return Role.PUBLIC
    found, role = services.keys.get(key)
    if not found:
        async with services.db.connection() as conn:
            role = await role_of_key(conn, key)
        services.keys.put(key, role)
    if role is None:
        raise Unauthorized("the API key is unknown or revoked")
    return role


async def admin_only(role: Annotated[Role, Depends(caller)]) -> Role:
    """Admins only: 403 for the others."""
    if role is not Role.ADMIN:
        raise Forbidden(f"the {role.value} role may not read the access audit")
    return role


async def history_reader(role: Annotated[Role, Depends(caller)]) -> Role:
    """Departments and admins only: 403 for the others."""
    if not role.sees_history:
        raise Forbidden(f"the {role.value} role may not read event histories")
    return role


async def key_holder(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> KeyHolder:
    """Who holds the key: for the routes that keep something per key (a watchlist) or
    record who sent what. Asked of the database each time (no cache), so a revoked key
    stops at once. 401 without a valid key."""
    key = api_key or (bearer.credentials if bearer is not None else None)
    if not key:
        raise Unauthorized("this route needs an API key (X-API-Key)")
    services: Services = request.app.state.services
    async with services.db.connection() as conn:
        holder = await holder_of_key(conn, key)
    if holder is None:
        raise Unauthorized("the API key is unknown or revoked")
    return holder


async def sender(holder: Annotated[KeyHolder, Depends(key_holder)]) -> KeyHolder:
    """A department key that names its department: the only callers that send data."""
    if holder.role is not Role.DEPARTMENT or holder.department is None:
        raise Forbidden(
            "only a department's key that names its department may send data "
            "(zjcredit keys create --role department --department CODE)"
        )
    return holder


Caller = Annotated[Role, Depends(caller)]
Holder = Annotated[KeyHolder, Depends(key_holder)]
Sender = Annotated[KeyHolder, Depends(sender)]
HistoryReader = Annotated[Role, Depends(history_reader)]
Admin = Annotated[Role, Depends(admin_only)]
