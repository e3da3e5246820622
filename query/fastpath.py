"""``GET /v1/enterprises/{uscc}`` and ``GET /v1/enterprises`` answered in front of FastAPI.

A profile lookup is one indexed read in PostgreSQL; through FastAPI it cost about 1.2 ms
of CPU, mostly dependency solving, the middleware stack and pydantic validating the
profile again. :class:`FastPath` is a plain ASGI layer that answers that route (and
plain searches, below) itself and hands every other request on unchanged. It runs the
routes' own parts, so the answer is the same byte for byte: the key read as
``X-API-Key`` or ``Authorization: Bearer`` and resolved by
:func:`query.access.role_of` (401 alike), the code checked by
:func:`query.routes.credit_code` (422 alike), the body made by
:func:`query.routes.profile_answer` (its ``ETag``, and 304 for an ``If-None-Match`` that
names it), and errors in the one JSON shape with their headers.
An unexpected error propagates to the app's outer error handler (the JSON 500).

A search is answered here only when each of its parameters is plainly what the route
declares (``q`` of 1-50 characters, ``grade`` one of the four, ``page`` and ``size`` plain
numbers in range) and it asks no export (no ``format``); anything else goes on to FastAPI,
which answers it (422 and all) as before. The body is :func:`query.routes.search_json`,
the route's own.

It sits inside the metrics middleware and puts the FastAPI route into the scope, so the
request is counted under its route (``/v1/enterprises/{uscc}``, ``/v1/enterprises``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import orjson

from query.access import presented_key, role_of
from query.errors import QueryError
from query.roles import Role
from query.routes import profile_answer, search_json
from query.services import Services

__all__ = ["PROFILE_ROUTE", "SEARCH_ROUTE", "FastPath", "search_arguments"]

PROFILE_ROUTE = "/v1/enterprises/{uscc}"
SEARCH_ROUTE = "/v1/enterprises"
_PREFIX = PROFILE_ROUTE.removesuffix("{uscc}")
_JSON = (b"content-type", b"application/json")
_GRADES = frozenset({"EXCELLENT", "GOOD", "FAIR", "POOR"})
_NUMBER = re.compile(r"[1-9][0-9]{0,4}")
_LIMITS = {"page": 10_000, "size": 100}  # as routes.PageNo and routes.Size declare


def search_arguments(query_string: bytes) -> dict[str, Any] | None:
    """The search's arguments if every parameter passes the route's declared checks
    plainly; None when FastAPI should look at them (and perhaps answer 422)."""
    # Read as Starlette reads them: latin-1, blanks kept, the last of a repeated name.
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    q = params.get("q")
    grade = params.get("grade")
    if (q is not None and not 1 <= len(q) <= 50) or (grade is not None and grade not in _GRADES):
        return None
    if "format" in params:  # an export (query/exports.py): FastAPI's
        return None
    numbers = {"page": 1, "size": 20}
    for name, most in _LIMITS.items():
        raw = params.get(name)
        if raw is not None:
            if not _NUMBER.fullmatch(raw) or int(raw) > most:
                return None
            numbers[name] = int(raw)
    return {"q": q, "city": params.get("city"), "grade": grade, "sector": params.get("sector"),
            **numbers}  # fmt: skip


class FastPath:
    """ASGI middleware: profiles and plain searches here, everything else to ``app``.

    Args:
        app: the rest of the stack (FastAPI's exception middleware and router).
        services: the app's :class:`~query.services.Services`.
        route: the FastAPI route object of :data:`PROFILE_ROUTE` (the metrics' label).
        search_route: the same for :data:`SEARCH_ROUTE`.
    """

    def __init__(self, app: Any, services: Services, route: Any, search_route: Any) -> None:
        self.app = app
        self.services = services
        self.route = route
        self.search_route = search_route

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
        elif path == SEARCH_ROUTE:
            arguments = search_arguments(scope["query_string"])
            if arguments is None:
                await self.app(scope, receive, send)
            else:
                scope["route"] = self.search_route
                await self._answer(scope, send, _search, arguments)
        elif path.startswith(_PREFIX) and (uscc := path[len(_PREFIX) :]) and "/" not in uscc:
            # Starlette's `{uscc}` matches one non-empty segment of the decoded path.
            scope["route"] = self.route
            await self._answer(scope, send, _profile, {"uscc": uscc})
        else:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Any, send: Any, make: Any, arguments: dict[str, Any]) -> None:
        api_key = authorization = if_none_match = None
        for name, value in scope["headers"]:
            # Starlette reads the first of repeated headers; so does this.
            if name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        try:
            role = await role_of(self.services, presented_key(api_key, authorization),
                                 authorization)  # fmt: skip
            status, body, extra = await make(self.services, role=role,
                                             if_none_match=if_none_match, **arguments)  # fmt: skip
        except QueryError as error:
            status, body, extra = error.status, orjson.dumps(error.body()), error.headers() or {}
        # A 304 has no body, and says nothing of one (as Starlette's Response does).
        headers = [] if status == 304 else [_JSON, (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _profile(services: Services, *, role: Role, if_none_match: str | None,
                   uscc: str) -> tuple[int, bytes, dict[str, str]]:  # fmt: skip
    return await profile_answer(services, uscc, role, if_none_match)


async def _search(services: Services, *, role: Role, if_none_match: str | None,
                  **arguments: Any) -> tuple[int, bytes, dict[str, str]]:  # fmt: skip
    return 200, await search_json(services, role=role, **arguments), {}  # every role may search
