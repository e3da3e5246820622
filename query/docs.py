"""The API's docs pages, ``/docs`` (Swagger UI) and ``/redoc``, served by the service itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN and start Swagger UI with an
inline script, which the service's Content-Security-Policy (query/headers.py) forbids.
These load the files that the ``fastapi-offline`` wheel ships (``/docs/assets/``), and
Swagger UI starts from ``/docs/init.js``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "mount_docs"]

ASSETS = Path(str(files("fastapi_offline") / "static"))
"""swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png."""

_SWAGGER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""
_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="/docs/assets/favicon.png">
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs/assets/redoc.standalone.js"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> None:
    """``/docs``, ``/docs/init.js``, ``/redoc`` and ``/docs/assets/`` on ``app`` (made with
    ``docs_url=None, redoc_url=None``)."""
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> Response:
        return HTMLResponse(_SWAGGER.format(title=title))

    @app.get("/docs/init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(_INIT, media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return HTMLResponse(_REDOC.format(title=title))

    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")
