"""Rate limits on ``/v1``: a token bucket per API key and per client address.

A request that presents a valid key draws from that key's bucket, ``per_key`` requests
a minute; any other request (no key, or a key that is not valid: so that made-up keys
cannot each open a bucket of their own) draws from its client address's bucket,
``per_address`` a minute. A key is looked up as the routes look it up
(:func:`query.access.role_of`, through the key cache, which the route then finds filled),
so a bank behind a busy shared address is limited by its key only. A bucket holds a sixth of a
minute's requests (10 s worth, at least 1) and refills continuously. A request that
finds its bucket empty is answered 429 ``too_many_requests`` with ``Retry-After``: the
whole seconds until the bucket holds one request again. ``0`` turns a limit off.

The address is the ASGI client's, which the server takes from ``X-Forwarded-For`` only
when the peer is a trusted proxy (127.0.0.1: granian through
``query.command.granian_app``, uvicorn by its ``--forwarded-allow-ips`` default). Buckets
live in this process (at most :data:`MAX_BUCKETS`, the least recently used dropped, as a
full bucket is the same as none): each worker process limits on its own.

Only ``/v1`` is limited: the registry paths, the page and its files, ``/healthz`` and
``/metrics`` (Prometheus scrapes them) are not.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from starlette.routing import Match

from query.access import presented_key, role_of
from query.errors import QueryError, TooManyRequests
from query.services import Services

__all__ = ["MAX_BUCKETS", "Buckets", "RateLimit"]

MAX_BUCKETS = 100_000


class Buckets:
    """Token buckets of ``per_minute`` requests, one per name.

    Args:
        per_minute: the sustained rate; a bucket holds a sixth of it (at least 1).
        clock: seconds, monotonic (default ``time.monotonic``).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 6.0)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, name: str) -> float:
        """Take one request from ``name``'s bucket: 0 if there was one, else the seconds
        until there is."""
        now = self.clock()
        tokens, at = self._buckets.pop(name, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[name] = (tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


class RateLimit:
    """ASGI middleware: 429 for a ``/v1`` request over its key's or address's limit.

    Args:
        app: the rest of the stack.
        services: the app's :class:`~query.services.Services` (its key cache and database).
        per_key: requests a minute per valid key (0: no limit).
        per_address: requests a minute per client address for the others (0: no limit).
        routes: the ``/v1`` routes, to count a 429 under its route in the metrics.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, app: Any, services: Services, *, per_key: int, per_address: int,
                 routes: Sequence[Any] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.app = app
        self.services = services
        self.routes = routes
        self.by_key = Buckets(per_key, clock) if per_key else None
        self.by_address = Buckets(per_address, clock) if per_address else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        wait = await self._wait(scope)
        if not wait:
            await self.app(scope, receive, send)
            return
        _name_the_route(scope, self.routes)
        error = TooManyRequests.after(math.ceil(wait))
        body = orjson.dumps(error.body())
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        headers += [(k.lower().encode(), v.encode()) for k, v in (error.headers() or {}).items()]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _wait(self, scope: Any) -> float:
        api_key = authorization = None
        for name, value in scope["headers"]:
            if name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
        key = presented_key(api_key, authorization)
        if key is not None:
            try:
                await role_of(self.services, key, authorization)
            except QueryError:
                pass  # not valid (the route answers 401), or no database (503): by address
            else:
                return self.by_key.take(key) if self.by_key is not None else 0.0
        if self.by_address is None:
            return 0.0
        client = scope.get("client")
        return self.by_address.take(client[0] if client else "")


def _name_the_route(scope: Any, routes: Sequence[Any]) -> None:
    """Put the route that would have answered into the scope, as the router does, so that
    the metrics count the 429 under it (only refused requests pay for the match)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            scope["route"] = route
            return
