"""Every answer's security and cache headers (query/headers.py), the docs pages served
from local files (query/docs.py), and CORS by its allow-list only.

In process (httpx's ASGI transport) over a stand-in database whose queries fail as the
test says: unavailable (503) or a bug (500), so that errors of every kind are asked.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from query.app import create_app
from query.db import Database
from query.errors import DatabaseUnavailable
from query.headers import CSP, REDOC_CSP, cache_control

_SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class _Failing(Database):
    """Every statement fails: with ``error`` (DatabaseUnavailable by default)."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__("postgresql://unused", check_schema=False)
        self.error = error or DatabaseUnavailable("PostgreSQL is unavailable (test)")

    async def pool(self) -> Any:
        raise self.error


def _client(db: Database | None = None, **options: Any) -> httpx.AsyncClient:
    app = create_app(db or _Failing(), registry=CollectorRegistry(), **options)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


@pytest.mark.parametrize(
    ("path", "status", "cache"),
    [
        ("/", 200, "no-cache"),
        ("/static/app.js", 200, "no-cache"),
        ("/docs", 200, "no-cache"),
        ("/docs/init.js", 200, "no-cache"),
        ("/docs/assets/swagger-ui-bundle.js", 200, "no-cache"),
        ("/docs/assets/swagger-ui.css", 200, "no-cache"),
        ("/redoc", 200, "no-cache"),
        ("/openapi.json", 200, "no-cache"),
        ("/metrics", 200, "no-store"),
        ("/subjects", 200, "public, max-age=86400"),
        ("/schemas/ids/1", 200, "public, max-age=86400"),
        ("/schemas/ids/999999", 404, "no-store"),
        ("/nowhere", 404, "no-store"),
        ("/healthz", 503, "no-store"),
        ("/v1/stats", 503, "no-store"),
        ("/v1/enterprises/91330100716105852F", 503, "no-store"),
        ("/v1/enterprises/91330100716105852G", 422, "no-store"),
        ("/v1/enterprises?q=%E6%9D%AD%E5%B7%9E%E5%B8%82", 503, "no-store"),
        ("/v1/blacklist?size=0", 422, "no-store"),
    ],
)
async def test_every_answer_has_the_security_headers(path: str, status: int, cache: str) -> None:
    async with _client() as client:
        got = await client.get(path)
    assert got.status_code == status, got.text
    for name, value in _SECURITY.items():
        assert got.headers[name] == value, name
    assert got.headers["content-security-policy"] == (REDOC_CSP if path == "/redoc" else CSP)
    assert "frame-ancestors 'none'" in got.headers["content-security-policy"]
    assert got.headers["cache-control"] == cache
    assert "access-control-allow-origin" not in got.headers
    if path.startswith("/v1/"):
        assert got.headers["vary"] == "X-API-Key, Authorization"


async def test_a_bug_is_a_500_with_the_headers_too() -> None:
    async with _client(_Failing(RuntimeError("a bug"))) as client:
        got = await client.get("/v1/stats")
    assert got.status_code == 500
    assert got.json()["error"] == "internal_error"
    assert got.headers["content-security-policy"] == CSP
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["x-content-type-options"] == "nosniff"


async def test_the_docs_pages_load_nothing_from_elsewhere_and_run_no_inline_script() -> None:
    async with _client() as client:
        for page in ("/docs", "/redoc", "/"):
            html = (await client.get(page)).text
            urls = re.findall(r'(?:src|href)="([^"]*)"', html)
            assert urls, page
            # data:, is the page's empty favicon; #... a link within the page (a view)
            for url in (u for u in urls if u != "data:," and not u.startswith("#")):
                assert re.match(r"/[^/]", url), (page, url)
                assert (await client.get(url)).status_code == 200, (page, url)
            # Every <script> has a src: the CSP's script-src 'self' runs no inline code.
            assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], page
        assert "SwaggerUIBundle" in (await client.get("/docs/init.js")).text


def test_errors_are_never_stored_and_registry_answers_are_kept_long() -> None:
    assert cache_control("/subjects/zjcredit.tax-value/versions", 200) == "public, max-age=86400"
    assert cache_control("/subjects", 404) == "no-store"
    assert cache_control("/v1/enterprises/X", 304) == "private, no-cache"
    assert cache_control("/v1/enterprises/X", 503) == "no-store"


async def test_cors_is_off_by_default() -> None:
    async with _client() as client:
        simple = await client.get("/subjects", headers={"Origin": "https://bank.example"})
        preflight = await client.options(
            "/v1/enterprises/91330100716105852F",
            headers={"Origin": "https://bank.example", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405


async def test_cors_answers_the_listed_origins_only() -> None:
    origin = "https://credit.bank.example"
    async with _client(cors_origins=[origin]) as client:
        preflight = await client.options(
            "/v1/enterprises/91330100716105852F",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "x-api-key, if-none-match"},
        )  # fmt: skip
        simple = await client.get("/subjects", headers={"Origin": origin})
        profile = await client.get("/v1/enterprises/91330100716105852G", headers={"Origin": origin})
        other = await client.get("/subjects", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    assert preflight.headers["x-content-type-options"] == "nosniff"
    assert simple.headers["access-control-allow-origin"] == origin
    assert profile.headers["access-control-allow-origin"] == origin  # the fast path's too
    assert "etag" in profile.headers["access-control-expose-headers"].lower()
    assert profile.headers["vary"] == "Origin, X-API-Key, Authorization"
    assert "access-control-allow-origin" not in other.headers
