"""A small HTTP client of the query service, for ``zjcredit query`` and scripts.

Example::

    client = ApiClient("http://127.0.0.1:8000", key=None)
    profile = client.enterprise("91330100716105852F")
    page = client.search("美兴", size=10)
    found = client.lookup(["91330100716105852F", "91330100500198455F"])
    for change in client.changes(since=None):   # a key's watched firms, live
        print(change["kind"], change["uscc"])
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from query.errors import ApiClientError
from query.feed import read_events
from query.lookup import LOOKUP_MAX

__all__ = ["ApiClient", "ApiClientError"]


class ApiClient:
    """``url``: the service (``ZJCREDIT_API_URL``); ``key``: an API key, or None (public)."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 10.0) -> None:
        headers = {"X-API-Key": key} if key else {}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout)
        self.url = url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        """The JSON answer of ``GET path``; ApiClientError for an error answer or none at all."""
        query = {k: v for k, v in params.items() if v is not None}
        return self._answer(path, lambda: self._http.get(path, params=query))

    def post(self, path: str, body: Any) -> Any:
        """The JSON answer of ``POST path`` with the JSON ``body``; errors as :meth:`get`."""
        return self._answer(path, lambda: self._http.post(path, json=body))

    def _answer(self, path: str, send: Callable[[], httpx.Response]) -> Any:
        try:
            response = send()
        except httpx.HTTPError as error:
            raise ApiClientError(
                f"the query service at {self.url} did not answer ({type(error).__name__}): "
                "is `zjcredit serve` running? (ZJCREDIT_API_URL)"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error:
            if isinstance(body, dict) and "message" in body:
                message = f"{response.status_code} {body.get('error')}: {body['message']}"
                raise ApiClientError(message, response.status_code, body)
            raise ApiClientError(
                f"{response.status_code} from {self.url}{path}", response.status_code
            )
        return body

    def enterprise(self, uscc: str) -> dict[str, Any]:
        body: dict[str, Any] = self.get(f"/v1/enterprises/{quote(uscc, safe='')}")
        return body

    def search(self, q: str, *, page: int = 1, size: int = 20) -> dict[str, Any]:
        body: dict[str, Any] = self.get("/v1/enterprises", q=q, page=page, size=size)
        return body

    def history(self, uscc: str, *, page: int = 1, size: int = 20) -> dict[str, Any]:
        body: dict[str, Any] = self.get(
            f"/v1/enterprises/{quote(uscc, safe='')}/history", page=page, size=size
        )
        return body

    def lookup(self, codes: Sequence[str]) -> dict[str, Any]:
        """The profiles of ``codes`` (any number: asked in parts of at most LOOKUP_MAX),
        with the codes not found and the malformed ones, as one answer."""
        merged: dict[str, Any] = {"profiles": [], "not_found": [], "malformed": []}
        codes = list(dict.fromkeys(codes))
        for start in range(0, max(len(codes), 1), LOOKUP_MAX):
            part = self.post("/v1/enterprises/lookup",
                             {"codes": list(codes[start : start + LOOKUP_MAX])})  # fmt: skip
            for name in ("profiles", "not_found", "malformed"):
                merged[name] += part[name]
            merged["role"] = part["role"]
        return merged

    def changes(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """The watched firms' changes after ``since``, live, as they come: the stream of
        ``GET /v1/changes/stream``, reconnected after ``since`` (the last change seen)."""
        headers = {"Last-Event-ID": since} if since else {}
        # The service sends a keep-alive every 15 s: a read waiting longer is a dead link.
        timeout = httpx.Timeout(self._http.timeout.connect, read=40.0)
        try:
            with self._http.stream("GET", "/v1/changes/stream", headers=headers,
                                   timeout=timeout) as response:  # fmt: skip
                if response.is_error:
                    response.read()
                    self._answer("/v1/changes/stream", lambda: response)
                for event, _id, data in read_events(response.iter_lines()):
                    if event == "change":
                        yield json.loads(data)
                    elif event == "error":
                        raise ApiClientError(f"the stream ended: {data}")
        except httpx.HTTPError as error:
            raise ApiClientError(
                f"the change stream of {self.url} broke ({type(error).__name__})"
            ) from None
