"""The query service's Prometheus metrics, declared once on an injectable registry.

| metric | labels | meaning |
|---|---|---|
| ``zjcredit_query_requests_total`` | route, method, status | answered requests |
| ``zjcredit_query_request_seconds`` | route | time to answer (histogram) |
| ``zjcredit_query_database_up`` | | 1 if the last use of PostgreSQL succeeded |
| ``process_*`` | | start time, CPU, memory, as every zjcredit process serves them |

``route`` is the route's template (``/v1/enterprises/{uscc}``), never the raw path, so a
crawler cannot grow the label set.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)

__all__ = ["MetricsMiddleware", "QueryMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class QueryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "zjcredit_query_requests_total", "Answered requests.",
            ("route", "method", "status"), registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "zjcredit_query_request_seconds", "Time to answer a request.", ("route",),
            buckets=_BUCKETS, registry=registry,
        )  # fmt: skip
        self.database_up = Gauge(
            "zjcredit_query_database_up", "1 if the last use of PostgreSQL succeeded.",
            registry=registry,
        )  # fmt: skip
        self.ingest_uploads = Gauge(
            "zjcredit_query_ingest_in_progress",
            "1 while an upload (POST /v1/ingest) is being received or sent; others get 503.",
            registry=registry,
        )  # fmt: skip
        self.change_streams = Gauge(
            "zjcredit_query_change_streams", "Clients following GET /v1/changes/stream.",
            registry=registry,
        )  # fmt: skip
        # The crash-loop alert counts restarts by process_start_time_seconds; the default
        # registry has its own process collector already.
        if registry is not REGISTRY:
            ProcessCollector(registry=registry)

    def on_database(self, up: bool) -> None:
        self.database_up.set(1 if up else 0)


class MetricsMiddleware:
    """A plain ASGI middleware (cheaper per request than Starlette's BaseHTTPMiddleware)."""

    def __init__(self, app: Any, metrics: QueryMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router put the matched route into the scope; unmatched paths share one label.
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope["method"], str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)
