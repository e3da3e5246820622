"""The headers every answer carries: security headers, and a ``Cache-Control`` per route.

:class:`SecurityHeaders` is a plain ASGI middleware that adds to each answer that has not
set them itself:

- ``Content-Security-Policy`` (:data:`CSP`): scripts, styles, images and fetches from
  the service itself only, no plugins, no framing (``frame-ancestors 'none'``). The web
  page and ``/docs`` (Swagger UI, served from the ``fastapi-offline`` wheel's files, its
  start-up in a file of its own: no inline script) satisfy it. ``/redoc`` has
  :data:`REDOC_CSP`: ReDoc writes its styles inline and parses the spec in a worker;
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (for browsers that do not
  read ``frame-ancestors``), ``Referrer-Policy: no-referrer``,
  ``Cross-Origin-Opener-Policy: same-origin``;
- ``Cache-Control`` by :func:`cache_control`: errors ``no-store``; the registry paths
  (the manifest is append-only) ``public, max-age=86400``; ``/v1`` answers
  ``private, no-cache`` (they differ by key; the profile carries an ``ETag`` to
  revalidate with, ``/v1/stats`` says its own ``max-age``); the page, its files and the
  docs ``no-cache`` (the files carry ``ETag`` and ``Last-Modified``); operations
  (``/healthz``, ``/metrics``) ``no-store``;
- ``Vary: X-API-Key, Authorization`` on ``/v1``, whose answers depend on the key.

The app's last-resort 500 is made outside every middleware (Starlette's
``ServerErrorMiddleware``), so its handler adds :func:`error_headers` itself.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CSP",
    "REDOC_CSP",
    "SecurityHeaders",
    "cache_control",
    "error_headers",
    "security_headers",
]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
REDOC_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_REGISTRY = ("/schemas/", "/subjects")
_PAGES = ("/", "/docs", "/redoc", "/openapi.json")
_VARY = "X-API-Key, Authorization"


def security_headers(path: str) -> dict[str, str]:
    """The security headers of an answer on ``path``."""
    return {
        "content-security-policy": REDOC_CSP if path == "/redoc" else CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
    }


# Encoded once: they go on every answer (False: every path but /redoc).
_ENCODED = {
    redoc: [(k.encode(), v.encode()) for k, v in security_headers(path).items()]
    for redoc, path in ((False, "/"), (True, "/redoc"))
}


def cache_control(path: str, status: int) -> str:
    """The ``Cache-Control`` of an answer on ``path`` with ``status``, unless it set one."""
    if status >= 400:
        return "no-store"
    if path.startswith(_REGISTRY):
        return "public, max-age=86400"
    if path.startswith("/v1/"):
        return "private, no-cache"
    if path in _PAGES or path.startswith(("/static/", "/docs/")):
        return "no-cache"
    return "no-store"


def error_headers(path: str) -> dict[str, str]:
    """Every header :class:`SecurityHeaders` would add to an error on ``path``."""
    return {**security_headers(path), "cache-control": "no-store"}


class SecurityHeaders:
    """ASGI middleware: :func:`security_headers`, :func:`cache_control` and ``Vary``
    added to every HTTP answer, each unless the answer has it already."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                added = _ENCODED[path == "/redoc"] + [
                    (b"cache-control", cache_control(path, message["status"]).encode())
                ]
                headers += [(k, v) for k, v in added if k not in present]
                if path.startswith("/v1/"):
                    headers = _vary(headers)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            headers[i] = (name, value + b", " + _VARY.encode())
            return headers
    return [*headers, (b"vary", _VARY.encode())]
