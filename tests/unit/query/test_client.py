"""The API client (query/client.py) against a stand-in service: a bulk lookup of any
number of codes is asked in parts of at most LOOKUP_MAX and merged; errors as for GET."""

from __future__ import annotations

import json

import httpx
import pytest

from query.client import ApiClient, ApiClientError
from query.lookup import LOOKUP_MAX


def _client(handler: httpx.MockTransport) -> ApiClient:
    client = ApiClient("http://t", key="zjc_1_x")
    client.close()
    client._http = httpx.Client(base_url="http://t", transport=handler,
                                headers={"X-API-Key": "zjc_1_x"})  # fmt: skip
    return client


def test_a_long_list_is_asked_in_parts_and_merged() -> None:
    asked: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/enterprises/lookup"
        assert request.headers["x-api-key"] == "zjc_1_x"
        codes = json.loads(request.content)["codes"]
        asked.append(codes)
        return httpx.Response(200, json={
            "profiles": [{"uscc": c} for c in codes if c.endswith("0")],
            "not_found": [c for c in codes if not c.endswith("0")], "malformed": [],
            "role": "bank",
        })  # fmt: skip

    codes = [f"C{n:05d}" for n in range(2 * LOOKUP_MAX + 500)]
    with _client(httpx.MockTransport(answer)) as client:
        merged = client.lookup([*codes, codes[0]])
        empty = client.lookup([])

    assert [len(a) for a in asked] == [LOOKUP_MAX, LOOKUP_MAX, 500, 0]
    assert [p["uscc"] for p in merged["profiles"]] == [c for c in codes if c.endswith("0")]
    assert len(merged["not_found"]) == len(codes) - len(merged["profiles"])
    assert merged["role"] == empty["role"] == "bank"


def test_an_error_answer_is_an_api_client_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"status": 422, "error": "invalid_parameter",
                                         "message": "codes: too many"})  # fmt: skip

    with _client(httpx.MockTransport(answer)) as client, pytest.raises(ApiClientError) as error:
        client.lookup(["91330100716105852F"])
    assert error.value.http_status == 422
    assert "invalid_parameter" in str(error.value)
