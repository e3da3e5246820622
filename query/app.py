"""The query service's ASGI app: :func:`create_app`.

Routes: ``/v1/...`` (query/routes.py), the Schema Registry paths (query/registry_routes.py),
``/healthz``, ``/metrics``, the web page at ``/`` and its files at ``/static``, the docs
(query/docs.py). Every answer carries the security headers of query/headers.py. Every
error, whatever raised it, answers the one JSON error shape (docs/query.md); a bug is a
500 whose body says nothing more (its traceback goes to the log, never to the client).
``GET /v1/enterprises/{uscc}`` and plainly valid searches, the hot routes, are answered
in front of FastAPI by query/fastpath.py with the routes' own parts.

Example::

    app = create_app("postgresql://postgres@127.0.0.1:5432/zjcredit")
    uvicorn.run(app, port=8000)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException

from query import audit_routes, changes, ingest, registry_routes, routes, watchlist
from query.audit import AuditLayer, AuditLog
from query.cache import Recomputed
from query.db import Database
from query.docs import mount_docs
from query.errors import QueryError, error_body
from query.fastpath import PROFILE_ROUTE, SEARCH_ROUTE, FastPath
from query.headers import SecurityHeaders, error_headers
from query.keys import KeyCache
from query.limits import RateLimit
from query.metrics import MetricsMiddleware, QueryMetrics
from query.models import ApiError, Health
from query.reads import EXPORT_ROWS
from query.services import INGEST_MAX_BYTES, IngestState, Services
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

__all__ = ["WEB_DIR", "create_app"]

WEB_DIR = Path(__file__).with_name("web")
_log = logging.getLogger("zjcredit.query")
_PLACEHOLDER = (
    '<!doctype html><meta charset="utf-8"><title>信用浙江 Credit Zhejiang</title>'
    "<h1>信用浙江 Credit Zhejiang</h1><p>The web page is not installed; the API is at "
    '<a href="/docs">/docs</a>.</p>'
)


def create_app(
    database: str | Database,
    *,
    topic_prefix: str = "zjcredit",
    registry: CollectorRegistry | None = None,
    key_cache_ttl: float = 10.0,
    query_timeout: float = 2.0,
    stats_ttl: float = 30.0,
    rate_per_key: int = 0,
    rate_per_address: int = 0,
    web_dir: Path = WEB_DIR,
    cors_origins: Sequence[str] = (),
    audit_retention_days: int = 365,
    bootstrap_servers: str | None = None,
    ingest_max_bytes: int = INGEST_MAX_BYTES,
    export_rows: int = EXPORT_ROWS,
) -> FastAPI:
    """The app over the read model at ``database`` (a URL, or a :class:`Database`).

    Args:
        database: ``postgresql://...`` (a pool is made on first use; migrations checked),
            or a ready :class:`~query.db.Database`.
        topic_prefix: names the registry's subjects (``<prefix>.<role>-value``); the
            ``ZJCREDIT_TOPIC_PREFIX`` setting.
        registry: where the metrics live (default: a fresh one per app, so that apps in
            one process do not collide).
        key_cache_ttl: seconds an API key lookup is remembered (default 10).
        query_timeout: seconds a statement may run before PostgreSQL cancels it (default
            2; a :class:`Database` passed in keeps its own); ``ZJCREDIT_QUERY_TIMEOUT``.
        stats_ttl: seconds ``/v1/stats`` serves one computed answer (default 30).
        rate_per_key, rate_per_address: ``/v1`` requests a minute per valid API key, and
            per client address for the others (query/limits.py; default 0: no limit;
            ``zjcredit serve`` passes ``ZJCREDIT_KEY_RATE_LIMIT``, ``ZJCREDIT_RATE_LIMIT``).
        web_dir: the web page's folder (default ``query/web``).
        cors_origins: the web origins (``https://credit.bank.example``) whose pages may
            call the API from a browser; none (the default): CORS is off. The
            ``ZJCREDIT_CORS_ORIGINS`` setting.
        audit_retention_days: how long the access audit keeps a row (default 365).
        bootstrap_servers: the Kafka that uploads (``POST /v1/ingest/{source}``) are sent
            to; None: uploads answer 503 ``ingest_unavailable``.
        ingest_max_bytes: the largest upload (default 64 MiB).
        export_rows: the most rows one export may have (default 100,000; more is a 422
            ``export_too_large``); ``ZJCREDIT_EXPORT_ROWS``.
    """
    metrics = QueryMetrics(registry if registry is not None else CollectorRegistry())
    db = (database if isinstance(database, Database)
          else Database(database, statement_timeout=query_timeout))  # fmt: skip
    db.on_state = metrics.on_database

    audit = AuditLog(db, retention_days=audit_retention_days)
    change_signal = changes.ChangeSignal(db.url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        writer = asyncio.create_task(audit.run())
        yield
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await change_signal.close()
        await db.close()

    app = FastAPI(
        title="信用浙江 Credit Zhejiang query service",
        version="1",
        description="Enterprise credit profiles, key-sector blacklists, joint-penalty "
        "checklists and the schema registry. Roles and errors: docs/query.md.",
        lifespan=lifespan,
        # Served by query/docs.py from local files: FastAPI's pages load a CDN's.
        docs_url=None,
        redoc_url=None,
    )
    app.state.audit = audit  # the bulk lookup records its reads itself
    app.state.change_signal = change_signal
    app.state.services = services = Services(
        db=db,
        catalog=load_catalog(),
        registry=ManifestRegistry.load(),
        topic_prefix=topic_prefix,
        keys=KeyCache(ttl=key_cache_ttl),
        metrics=metrics,
        stats=Recomputed(stats_ttl),
        ingest=IngestState(bootstrap_servers, ingest_max_bytes),
        export_rows=export_rows,
    )
    app.include_router(routes.router)
    app.include_router(registry_routes.router)
    mount_docs(app)
    app.include_router(audit_routes.router)
    app.include_router(ingest.router)
    app.include_router(watchlist.router)
    app.include_router(changes.router)
    _operations(app, metrics, web_dir)
    _error_handlers(app)
    by_path = {getattr(r, "path", ""): r for r in routes.router.routes}
    # Added last is outermost: metrics, the headers, CORS, the rate limits, the fast path,
    # FastAPI's own.
    app.add_middleware(FastPath, services=services, route=by_path[PROFILE_ROUTE],
                       search_route=by_path[SEARCH_ROUTE])  # fmt: skip
    if rate_per_key or rate_per_address:
        app.add_middleware(RateLimit, services=services, per_key=rate_per_key,
                           per_address=rate_per_address, routes=routes.router.routes)  # fmt: skip
    if cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "If-None-Match", "Content-Type",
                           "Last-Event-ID"],
            expose_headers=["ETag", "Retry-After"], max_age=600,
        )  # fmt: skip
    app.add_middleware(SecurityHeaders)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Outside the fast path, so it sees the hot route's answers too.
    app.add_middleware(AuditLayer, audit=audit, keys=services.keys)
    return app


def _operations(app: FastAPI, metrics: QueryMetrics, web_dir: Path) -> None:
    @app.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": ApiError, "description": "PostgreSQL is unavailable"}},
        tags=["operations"],
    )
    async def healthz(request: Request) -> Response:
        services: Services = request.app.state.services
        await services.db.fetchval("select 1")
        return routes.json_response(Health(status="ok", database="up"))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = web_dir / "index.html"
        # The page is another part of the project; until it is there, say where the API is.
        return FileResponse(page) if page.is_file() else HTMLResponse(_PLACEHOLDER)

    if web_dir.is_dir():
        app.mount("/static", StaticFiles(directory=web_dir), name="static")


def _error_handlers(app: FastAPI) -> None:
    async def query_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, QueryError)
        return JSONResponse(error.body(), error.status, headers=error.headers())

    async def invalid_request(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        details = [_detail(e) for e in error.errors()]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return JSONResponse(error_body(422, "invalid_parameter", message, details=details), 422)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}.get(
            error.status_code, "http_error"
        )
        body = error_body(error.status_code, code, str(error.detail))
        return JSONResponse(body, error.status_code, headers=error.headers)

    async def bug(request: Request, error: Exception) -> Response:
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = error_body(500, "internal_error", "internal error; the service log has the details")
        # Made outside the middleware (Starlette's ServerErrorMiddleware): its own headers.
        return JSONResponse(body, 500, headers=error_headers(request.url.path))

    app.add_exception_handler(QueryError, query_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, bug)


def _detail(error: Any) -> dict[str, str]:
    # loc is ("query", "size") or ("path", "uscc"): the parameter's name is what a caller sent.
    loc = [str(part) for part in error.get("loc", ())[1:]] or ["request"]
    return {"field": ".".join(loc), "rule": str(error.get("type")), "message": str(error["msg"])}
