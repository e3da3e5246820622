"""The query service over HTTP, on a read model the real pipeline filled.

Once for the module: a generated province is produced to fresh topics, ``zjcredit
worker`` and ``zjcredit sink`` write it into a fresh database (tests/queryservice.py),
then ``zjcredit serve`` runs over it as a subprocess, and ``zjcredit keys create`` makes
a key per role. Then, over real HTTP:

- every ``/v1`` route against the pure fold's profiles (tests/readmodel.py ``Expected``)
  and direct SQL counts; stable pagination;
- each role: what the public may not see is null and named; a bank sees amounts; only
  departments and admins read history; a wrong or revoked key is 401, a role without
  access 403;
- the bulk lookup: each role's profiles equal to the single route's, codes not found and
  malformed, 1,000 codes and no more; the exports: CSV (BOM, read back by ``csv``) and JSON
  Lines equal to the JSON routes' items, the routes' checks, no transaction left open;
- each error in the one JSON shape: a malformed code (422 with the failed rule), unknown
  code (404), bad parameters (422), unknown route (404);
- the Schema Registry paths with confluent-kafka's ``SchemaRegistryClient`` and
  ``AvroDeserializer`` decoding the topics' messages;
- schemathesis against ``/openapi.json``: no 5xx, every answer as documented;
- ``zjcredit query`` as a person and a script would use it;
- the hardening: security and cache headers on every kind of answer, a profile's
  ``ETag`` and 304, a statement cancelled at the pool's statement timeout (a lock held on
  the enterprises) as 503 ``query_timeout`` while the database counts as up and the kept
  stats still answer.
- ``zjcredit query`` as a person and a script would use it (``--file`` too).
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from base.endpoints import Endpoints
from base.settings import Settings
from query.audit import key_id_of
from query.exports import csv_cell
from query.keys import create_key, revoke_key
from query.render import display_width
from query.roles import PUBLIC_HIDDEN, Role
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.uscc import make_code
from tests.outputs import read_topic
from tests.queryservice import FilledReadModel, QueryService, zjcredit
from tests.readmodel import fetch
from tests.workers import wait_for

FIRMS = 400
SEED = 5  # this seed's province has listings in force and ended, and 专精特新 firms
ERROR_KEYS = {"status", "error", "error_code", "message", "details"}


@dataclass
class Api:
    """The module's service: its URL, one key per role, the read model it serves."""

    url: str
    keys: dict[str, str]
    model: FilledReadModel
    service: QueryService

    def get(self, path: str, role: str = "public", **params: Any) -> httpx.Response:
        headers = {"X-API-Key": self.keys[role]} if role != "public" else {}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=30)

    def post(self, path: str, body: Any, role: str = "public") -> httpx.Response:
        headers = {"X-API-Key": self.keys[role]} if role != "public" else {}
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=30)

    def sql(self, query: str, *args: Any) -> list[Any]:
        return fetch(self.model.database_url, query, *args)


@pytest.fixture(scope="module")
def api(bootstrap_servers: str, settings: Settings, stack: Endpoints,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:  # fmt: skip
    tmp = tmp_path_factory.mktemp("query")
    model = FilledReadModel(bootstrap_servers, settings, stack.database_url, tmp,
                            firms=FIRMS, seed=SEED)  # fmt: skip
    service = None
    try:
        service = QueryService(model.database_url, model.prefix, tmp / "serve.log")
        # The bank's key as an operator makes it; the others directly (each `zjcredit`
        # command costs seconds of imports on a busy machine).
        made = zjcredit(["keys", "create", "--role", "bank", "--name", "测试银行"],
                        model.database_url, model.prefix)  # fmt: skip
        assert made.returncode == 0, made.stderr
        keys = {"bank": made.stdout.strip()}
        for role in (Role.DEPARTMENT, Role.ADMIN):
            keys[role.value] = _new_key(model.database_url, role)
        yield Api(service.url, keys, model, service)
    finally:
        if service is not None:
            assert service.stop() == 0, service.logs()
        model.close()


def _run(database_url: str, work: Any) -> Any:
    async def go() -> Any:
        conn = await asyncpg.connect(database_url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def _new_key(database_url: str, role: Role) -> str:
    _, key = _run(database_url, lambda conn: create_key(conn, f"测试 {role.value}", role))
    return str(key)


def _error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert (body["status"], body["error"]) == (status, error), body
    assert "Traceback" not in response.text
    return body


def _listed(api: Api) -> str:
    return next(u for u, p in api.model.expected.profiles.items() if p["blacklist"])


# --- profiles and roles ------------------------------------------------------------------


def test_the_public_profile_is_the_folds_without_amounts(api: Api) -> None:
    uscc = _listed(api)
    want = api.model.expected.profiles[uscc]

    got = api.get(f"/v1/enterprises/{uscc}").json()

    assert (got["uscc"], got["name"], got["score"], got["grade"], got["tax_grade"]) == (
        uscc, want["name"], None, want["grade"], want["tax_grade"],
    )  # fmt: skip
    assert got["city"]
    assert got["grade_zh"] in ("优秀", "良好", "中等", "较差")
    assert [(x["sector"], x["decision_no"]) for x in got["blacklist"]] == [
        (x["sector"], x["decision_no"]) for x in want["blacklist"]
    ]
    assert all(x["sector_name"] != x["sector"] for x in got["blacklist"])
    assert len(got["penalties"]) == len(want["penalties"]) > 0
    assert [g["year"] for g in got["tax_grades"]] == [g["year"] for g in want["tax_grades"]]
    assert all(g["score"] is None for g in got["tax_grades"])
    # Amounts are not public: null, named in `hidden`; nor what gives them away: the
    # score, and the factors of them (their points).
    assert got["role"] == "public"
    assert got["tax_paid"] is got["arrears"] is got["credit_line"] is None
    assert got["hidden"] == list(PUBLIC_HIDDEN)  # its list: tests/unit/query/test_views.py
    assert [(f["code"], f["points"]) for f in got["factors"]] == [
        (f["code"], f["points"])
        for f in want["factors"]
        if f["code"] not in ("tax_paid", "arrears")
    ]
    amounts = [str(t["amount"]) for t in want["tax_paid"] if t["amount"]]
    assert not any(a in json.dumps(got, ensure_ascii=False) for a in amounts)


def test_a_bank_sees_tax_amounts_and_the_credit_line(api: Api) -> None:
    uscc = next(u for u, p in api.model.expected.profiles.items()
                if p["tax_paid"] and p["credit_line"] and p["credit_line"]["eligible"])  # fmt: skip
    want = api.model.expected.profiles[uscc]

    for role in ("bank", "department", "admin"):
        got = api.get(f"/v1/enterprises/{uscc}", role).json()
        assert got["role"] == role
        assert got["hidden"] == []
        assert [(t["year"], Decimal(t["amount"])) for t in got["tax_paid"]] == [
            (t["year"], t["amount"]) for t in want["tax_paid"]
        ]
        assert Decimal(got["credit_line"]["amount"]) == want["credit_line"]["amount"]
        assert Decimal(got["arrears"]["outstanding"]) == want["arrears_outstanding"]
        assert any(f["facts"] for f in got["factors"] if f["code"] == "tax_paid")
        assert got["score"] == want["score"]
        assert sum(f["points"] for f in got["factors"]) == got["score"] or got["score"] in (0, 1000)


def test_the_key_may_come_as_a_bearer_token_and_codes_in_lower_case(api: Api) -> None:
    uscc = _listed(api)
    response = httpx.get(f"{api.url}/v1/enterprises/{uscc.lower()}",
                         headers={"Authorization": f"Bearer {api.keys['bank']}"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["uscc"] == uscc
    assert response.json()["role"] == "bank"


def test_a_wrong_or_revoked_key_is_401_everywhere(api: Api) -> None:
    key = _new_key(api.model.database_url, Role.ADMIN)
    key_id = key.split("_")[1]
    listed = zjcredit(["keys", "list"], api.model.database_url, api.model.prefix)
    assert key_id in listed.stdout
    assert key not in listed.stdout
    revoked = zjcredit(["keys", "revoke", key_id], api.model.database_url, api.model.prefix)
    assert revoked.returncode == 0, revoked.stderr
    assert not _run(api.model.database_url, lambda conn: revoke_key(conn, key_id)), "twice"

    for headers in ({"X-API-Key": "zjc_00000000_nope"}, {"X-API-Key": key},
                    {"Authorization": f"Bearer {key}"}, {"Authorization": "Basic eDp5"}):  # fmt: skip
        for path in ("/v1/stats", f"/v1/enterprises/{_listed(api)}"):
            response = httpx.get(f"{api.url}{path}", headers=headers)
            _error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_history_is_for_departments_and_admins_newest_first(api: Api) -> None:
    uscc = _listed(api)
    want = [
        e.event for items in api.model.events.values() for e in items if e.event["uscc"] == uscc
    ]

    for role in ("public", "bank"):
        _error(api.get(f"/v1/enterprises/{uscc}/history", role), 403, "forbidden")
    pages = [api.get(f"/v1/enterprises/{uscc}/history", "department", size=3).json()]
    while pages[-1]["items"]:
        pages.append(api.get(f"/v1/enterprises/{uscc}/history", "department", size=3,
                             page=len(pages) + 1).json())  # fmt: skip
    items = [e for p in pages for e in p["items"]]

    assert pages[0]["total"] == len(want) == len(items)
    assert Counter(e["event_id"] for e in items) == Counter(str(e["event_id"]) for e in want)
    keys = [(e["occurred_at"], e["reported_at"]) for e in items]
    assert keys == sorted(keys, reverse=True)
    assert {e["source"] for e in items} >= {"enterprise", "blacklist"}
    listed = next(e for e in items if e["event_type"] == "LISTED")
    assert listed["department"]
    assert listed["payload"]["sector"]
    assert api.get(f"/v1/enterprises/{uscc}/history", "admin").status_code == 200
    _error(api.get("/v1/enterprises/91330100716105852F/history", "admin"), 404, "not_found")


# --- bulk lookup -----------------------------------------------------------------------------


def test_bulk_lookup_is_each_profile_as_the_single_route_shows_it(api: Api) -> None:
    codes = sorted(api.model.expected.profiles)[:25]
    unknown = make_code("91", "330100", "MAPLE001")
    asked = [codes[0].lower(), unknown, *codes, "91330100716105852G", " 9133010071610585 "]

    for role in ("public", "bank", "department", "admin"):
        response = api.post("/v1/enterprises/lookup", {"codes": asked}, role)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["role"] == role
        assert [p["uscc"] for p in body["profiles"]] == codes
        singles = [api.get(f"/v1/enterprises/{c}", role).json() for c in codes]
        assert body["profiles"] == singles
        assert body["not_found"] == [unknown]
        assert [(m["uscc"], m["rule"]) for m in body["malformed"]] == [
            ("91330100716105852G", "check_char"), (" 9133010071610585 ", "length"),
        ]  # fmt: skip
        single = _error(api.get("/v1/enterprises/91330100716105852G"), 422, "invalid_credit_code")
        assert body["malformed"][0]["message"] == single["details"][0]["message"]


def test_bulk_lookup_takes_1000_codes_and_refuses_more(api: Api) -> None:
    firms = sorted(api.model.expected.profiles)
    made = [make_code("91", "330100", f"QX{n:06d}") for n in range(1000 - len(firms))]
    body = api.post("/v1/enterprises/lookup", {"codes": firms + made}, "bank").json()
    assert [p["uscc"] for p in body["profiles"]] == firms
    assert set(body["not_found"]) == set(made) - set(firms)

    refused = _error(api.post("/v1/enterprises/lookup", {"codes": [*firms, *made, firms[0]]}),
                     422, "invalid_parameter")  # fmt: skip
    assert refused["details"][0]["field"] == "codes"
    assert refused["details"][0]["rule"] == "max_items"
    assert "at most 1000" in refused["message"]
    _error(api.post("/v1/enterprises/lookup", {"codes": "91330100716105852F"}), 422,
           "invalid_parameter")  # fmt: skip
    garbled = httpx.post(f"{api.url}/v1/enterprises/lookup", content=b"\xff;{",
                         headers={"Content-Type": "application/json"})  # fmt: skip
    _error(garbled, 400, "invalid_body")


# --- lists ---------------------------------------------------------------------------------


def test_search_by_a_chinese_name_substring_in_a_stable_order(api: Api) -> None:
    name = next(p["name"] for p in api.model.expected.profiles.values() if p["name"])
    q = name[2:5]  # three characters from the middle: the city prefix is too common
    want = sorted(u for u, p in api.model.expected.profiles.items() if q in (p["name"] or ""))

    first = api.get("/v1/enterprises", q=q, size=100).json()
    got = [e["uscc"] for e in first["items"]]

    assert first["total"] == len(want)
    assert got == want[:100]
    assert all(q in e["name"] for e in first["items"])
    # Pages of 7 put together are the same list.
    paged = []
    for n in range(1, len(want) // 7 + 2):
        paged += [
            e["uscc"] for e in api.get("/v1/enterprises", q=q, size=7, page=n).json()["items"]
        ]
    assert paged == want
    # A whole credit code searches by code.
    exact = api.get("/v1/enterprises", q=want[0].lower()).json()
    assert [e["uscc"] for e in exact["items"]] == [want[0]]


def test_search_filters_by_city_grade_and_sector(api: Api) -> None:
    profiles = api.model.expected.profiles
    by_code = api.get("/v1/enterprises", city="330200", size=100).json()
    by_name = api.get("/v1/enterprises", city="宁波", size=100).json()
    assert by_code == by_name
    assert by_code["total"] == sum(p["city_code"] == "330200" for p in profiles.values())
    assert {e["city"] for e in by_code["items"]} == {"宁波"}

    poor = api.get("/v1/enterprises", grade="POOR", size=100).json()
    assert poor["total"] == sum(p["grade"] == "POOR" for p in profiles.values())
    sector = profiles[_listed(api)]["blacklist"][0]["sector"]
    listed = api.get("/v1/enterprises", sector=sector, size=100).json()
    want = sorted(u for u, p in profiles.items() if sector in {x["sector"] for x in p["blacklist"]})
    assert [e["uscc"] for e in listed["items"]] == want


def test_blacklist_in_force_and_ended(api: Api) -> None:
    profiles = api.model.expected.profiles
    active = api.get("/v1/blacklist", size=100).json()
    ended = api.get("/v1/blacklist", active="false", size=100).json()

    assert active["total"] == sum(len(p["blacklist"]) for p in profiles.values()) > 0
    assert ended["total"] == sum(len(p["blacklist_history"]) for p in profiles.values()) > 0
    assert all(x["in_force"] and x["ended_on"] is None for x in active["items"])
    assert all(not x["in_force"] and x["ended_on"] and x["ground"] for x in ended["items"])
    dates = [x["listed_on"] for x in active["items"]]
    assert dates == sorted(dates, reverse=True)
    sector = active["items"][0]["sector"]
    only = api.get("/v1/blacklist", sector=sector, size=100).json()
    assert {x["sector"] for x in only["items"]} == {sector}


def test_penalties_a_departments_checklist(api: Api) -> None:
    rows = api.sql("select department, count(*) n from credit.penalty_measure group by 1")
    department, n = max(((r["department"], r["n"]) for r in rows), key=lambda x: x[1])

    checklist = api.get("/v1/penalties", department=department, size=100).json()

    assert checklist["total"] == n
    assert {x["department"] for x in checklist["items"]} == {department}
    assert all(x["measure"] and x["department_name"] for x in checklist["items"])
    uscc = _listed(api)
    mine = api.get("/v1/penalties", uscc=uscc, size=100).json()
    assert mine["total"] == len(api.model.expected.profiles[uscc]["penalties"])
    everything = api.get("/v1/penalties", size=1).json()
    assert everything["total"] == sum(r["n"] for r in rows)


def test_priority_lists_the_specialised_smes_national_first(api: Api) -> None:
    want = {u for u, p in api.model.expected.profiles.items() if p["zjtx"] and p["zjtx"]["active"]}
    got = api.get("/v1/priority", "bank", size=100).json()

    assert {x["uscc"] for x in got["items"]} == want
    assert got["total"] == len(want) > 1
    order = [(x["zjtx_level"] != "NATIONAL", -x["score"], x["uscc"]) for x in got["items"]]
    assert order == sorted(order)
    # The public sees no score, and the order would tell it: by grade instead.
    public = api.get("/v1/priority", size=100).json()
    assert {x["uscc"] for x in public["items"]} == want
    assert all(x["score"] is None for x in public["items"])
    grades = ("EXCELLENT", "GOOD", "FAIR", "POOR")
    order = [(x["zjtx_level"] != "NATIONAL", grades.index(x["grade"]), x["uscc"])
             for x in public["items"]]  # fmt: skip
    assert order == sorted(order)


def test_stats_count_the_whole_province(api: Api) -> None:
    stats = api.get("/v1/stats").json()
    profiles = api.model.expected.profiles.values()

    assert stats["enterprises"] == FIRMS
    assert stats["by_grade"] == {g: sum(p["grade"] == g for p in profiles)
                                 for g in ("EXCELLENT", "GOOD", "FAIR", "POOR")}  # fmt: skip
    assert sum(stats["by_city"].values()) == FIRMS
    assert len(stats["by_city"]) == 11
    assert sum(stats["by_sector"].values()) == sum(len(p["blacklist"]) for p in profiles)
    assert stats["as_of"] == "2018-06-30"


# --- the access audit ----------------------------------------------------------------------


def test_reads_by_keys_are_audited_and_the_publics_are_not(api: Api) -> None:
    """Every answered read by a key of what the public does not see, kept; admins read it."""
    firm = sorted(api.model.expected.profiles)[-1]

    def rows(**params: Any) -> list[dict[str, Any]]:
        answer = api.get("/v1/audit", "admin", uscc=firm, **params)
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    time.sleep(2.5)  # what other tests read has been written (every second)
    before = len(rows())
    assert api.get(f"/v1/enterprises/{firm}").status_code == 200  # public: nothing hidden
    assert api.get(f"/v1/enterprises/{firm}", "bank").status_code == 200
    assert api.get(f"/v1/enterprises/{firm}/history", "department").status_code == 200
    assert api.get(f"/v1/enterprises/{firm}/history", "bank").status_code == 403  # no read
    looked = httpx.post(f"{api.url}/v1/enterprises/lookup", json={"codes": [firm]},
                        headers={"X-API-Key": api.keys["bank"]}, timeout=30)  # fmt: skip
    assert looked.status_code == 200, looked.text
    assert wait_for(lambda: len(rows()) >= before + 3, 15), rows()
    time.sleep(2.5)
    new = rows()[: len(rows()) - before]
    assert {(r["key_id"], r["role"], r["route"]) for r in new} == {
        (key_id_of(api.keys["bank"]), "bank", "/v1/enterprises/{uscc}"),
        (key_id_of(api.keys["department"]), "department", "/v1/enterprises/{uscc}/history"),
        (key_id_of(api.keys["bank"]), "bank", "/v1/enterprises/lookup"),
    }
    assert all(r["uscc"] == firm for r in new)
    assert rows(key=key_id_of(api.keys["bank"]), limit=1)[0]["route"] == "/v1/enterprises/lookup"
    _error(api.get("/v1/audit", "bank"), 403, "forbidden")
    printed = zjcredit(["keys", "audit", "--uscc", firm.lower()], api.model.database_url,
                       api.model.prefix)  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert f"{key_id_of(api.keys['bank'])}  bank" in printed.stdout
    assert "/v1/enterprises/{uscc}/history" in printed.stdout


# --- exports --------------------------------------------------------------------------------


def _every_item(api: Api, path: str, role: str = "public", **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in itertools.count(1):
        body = api.get(path, role, size=100, page=page, **params).json()
        items += body["items"]
        if len(body["items"]) < 100:
            return items
    raise AssertionError  # unreachable


@pytest.mark.parametrize(
    ("path", "name", "params"),
    [
        ("/v1/blacklist", "blacklist", {}),
        ("/v1/blacklist", "blacklist", {"active": "false"}),
        ("/v1/penalties", "penalties", {"department": "MOF"}),
        ("/v1/penalties", "penalties", {}),
        ("/v1/enterprises", "enterprises", {"city": "宁波"}),
        ("/v1/enterprises", "enterprises", {"q": "有限公"}),
        ("/v1/enterprises", "enterprises", {}),
    ],
)
def test_exports_are_the_json_routes_items_as_csv_and_json_lines(
    api: Api, path: str, name: str, params: dict[str, str]
) -> None:
    want = _every_item(api, path, **params)
    assert want or params, "the province should have some"

    as_csv = api.get(path, "bank", format="csv", **params, size=1)
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(rf'attachment; filename="zjcredit-{name}-\d{{8}}\.csv"',
                        as_csv.headers["content-disposition"])  # fmt: skip
    assert as_csv.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"), newline="")))
    # As the bank sees them (the public's search items have no score).
    banks = _every_item(api, path, "bank", **params)
    assert rows == [{k: csv_cell(v) for k, v in item.items()} for item in banks]

    as_jsonl = api.get(path, format="jsonl", **params)
    assert as_jsonl.status_code == 200, as_jsonl.text
    assert as_jsonl.headers["content-type"] == "application/x-ndjson"
    assert as_jsonl.headers["content-disposition"].endswith('.jsonl"')
    assert [json.loads(line) for line in as_jsonl.text.splitlines()] == want


def test_exports_keep_the_routes_checks(api: Api) -> None:
    _error(api.get("/v1/blacklist", format="xml"), 422, "invalid_parameter")
    _error(api.get("/v1/enterprises", format="csv", city="北京"), 422, "invalid_parameter")
    body = _error(api.get("/v1/penalties", format="jsonl", uscc="91330100716105852G"), 422,
                  "invalid_credit_code")  # fmt: skip
    assert body["details"][0]["rule"] == "check_char"
    wrong = httpx.get(f"{api.url}/v1/blacklist", params={"format": "csv"},
                      headers={"X-API-Key": "zjc_00000000_nope"})  # fmt: skip
    _error(wrong, 401, "unauthorized")
    # A whole credit code searches by code in an export too.
    uscc = _listed(api)
    found = api.get("/v1/enterprises", format="jsonl", q=uscc.lower())
    assert [json.loads(line)["uscc"] for line in found.text.splitlines()] == [uscc]
    metrics = api.get("/metrics").text
    assert 'route="/v1/blacklist",status="200"' in metrics
    # Read in part, then dropped: the cursor's transaction ends, the connection goes back.
    for _ in range(12):
        with httpx.stream("GET", f"{api.url}/v1/enterprises", params={"format": "csv"}) as r:
            assert r.status_code == 200
            next(r.iter_bytes())
    assert api.get("/healthz").status_code == 200
    for _ in range(50):  # the server ends a dropped answer in its own time
        stuck = api.sql("select count(*) from pg_stat_activity where datname = current_database()"
                        " and state like 'idle in transaction%'")[0][0]  # fmt: skip
        if not stuck:
            break
        time.sleep(0.1)
    assert stuck == 0


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("91330100716105852G", "check_char"),
        ("91330000727215175G", "org_check"),
        ("91330000I27215176K", "charset"),
        ("9133010071610585", "length"),
        ("Z1330100716105852F", "charset"),
        ("01330100716105852F", "authority"),
    ],
)
def test_a_malformed_credit_code_is_422_with_the_failed_rule(
    api: Api, code: str, rule: str
) -> None:
    body = _error(api.get(f"/v1/enterprises/{code}"), 422, "invalid_credit_code")
    assert body["details"][0]["rule"] == rule
    assert body["details"][0]["field"] == "uscc"
    body = _error(api.get("/v1/penalties", uscc=code), 422, "invalid_credit_code")
    assert body["details"][0]["rule"] == rule


def test_a_code_with_a_long_run_of_blanks_inside_is_422_at_once(api: Api) -> None:
    """Issue 13: parsing it was quadratic, on the event loop (8.7 s, /healthz stalled)."""
    code = "91330" + " " * 5_000 + "100716105852F"
    body = _error(api.get("/v1/penalties", uscc=code), 422, "invalid_credit_code")
    assert body["details"][0]["rule"] == "length"
    assert len(json.dumps(body)) < 1_000  # the message quotes the start, not 5,000 blanks
    assert api.get("/healthz").status_code == 200


def test_an_unknown_code_is_404_and_bad_parameters_422(api: Api) -> None:
    _error(api.get("/v1/enterprises/91330100716105852F"), 404, "not_found")
    _error(api.get("/v1/nothing-here"), 404, "not_found")
    for path, params, field in [
        ("/v1/enterprises", {"size": 0}, "size"),
        ("/v1/enterprises", {"size": 101}, "size"),
        ("/v1/enterprises", {"page": "abc"}, "page"),
        ("/v1/enterprises", {"grade": "AAA"}, "grade"),
        ("/v1/enterprises", {"city": "北京"}, "city"),
        ("/v1/enterprises", {"sector": "nonsense"}, "sector"),
        ("/v1/enterprises", {"q": "\x00"}, "q"),
        ("/v1/blacklist", {"active": "perhaps"}, "active"),
        ("/v1/penalties", {"department": "FBI"}, "department"),
        ("/v1/priority", {"level": "CITY"}, "level"),
    ]:
        body = _error(api.get(path, **params), 422, "invalid_parameter")
        assert body["details"][0]["field"] == field, body


# --- registry, operations, web, CLI ---------------------------------------------------------


def test_a_confluent_client_decodes_the_topics_through_the_registry_paths(api: Api) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415
    from confluent_kafka.schema_registry.avro import AvroDeserializer  # noqa: PLC0415
    from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: PLC0415

    client = SchemaRegistryClient({"url": api.url})
    deserialize = AvroDeserializer(client)
    codec = Codec(ManifestRegistry.load())
    prefix = api.model.prefix

    subjects = client.get_subjects()
    assert f"{prefix}.tax-value" in subjects
    assert f"{prefix}.profiles-value" in subjects
    latest = client.get_latest_version(f"{prefix}.penalties-value")
    assert (latest.version, latest.schema_id) == (2, 8)
    assert client.get_version(f"{prefix}.penalties-value", 1).schema_id == 6
    assert client.get_versions(f"{prefix}.penalties-value") == [1, 2]
    for role in ("tax", "blacklist", "profiles"):
        topic = f"{prefix}.{role}"
        records = read_topic(api.model.bootstrap_servers, topic)[:50]
        assert records
        for _, value in records:
            ours, _ = codec.decode(value)
            theirs = deserialize(value, SerializationContext(topic, MessageField.VALUE))
            assert theirs == ours


def test_the_registry_looks_a_clients_schema_up_and_refuses_writes(api: Api) -> None:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient  # noqa: PLC0415
    from confluent_kafka.schema_registry.error import SchemaRegistryError  # noqa: PLC0415

    client = SchemaRegistryClient({"url": api.url})
    subject = f"{api.model.prefix}.penalties-value"
    v1 = client.get_version(subject, 1)
    found = client.lookup_schema(subject, Schema(v1.schema.schema_str, "AVRO"))
    assert (found.schema_id, found.version) == (v1.schema_id, 1)
    # A copy with its own docs is the same schema: the canonical form decides.
    copy = json.loads(v1.schema.schema_str) | {"doc": "我们部门的副本"}
    answer = api.post(f"/subjects/{subject}", {"schema": json.dumps(copy, ensure_ascii=False)})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["id"], answer.json()["subject"]) == (v1.schema_id, subject)

    other = json.loads(v1.schema.schema_str)
    other["fields"] = [*other["fields"], {"name": "extra", "type": "int"}]
    body = _error(api.post(f"/subjects/{subject}", {"schema": json.dumps(other)}), 404,
                  "schema_not_found")  # fmt: skip
    assert body["error_code"] == 40403
    unknown = api.post("/subjects/nope-value", {"schema": '"string"'})
    assert _error(unknown, 404, "subject_not_found")["error_code"] == 40401
    for text in ("{not json", '{"type": "nope"}', "[1]"):
        bad = api.post(f"/subjects/{subject}", {"schema": text})
        assert _error(bad, 422, "invalid_schema")["error_code"] == 42201
    protobuf = api.post(f"/subjects/{subject}", {"schema": "syntax", "schemaType": "PROTOBUF"})
    assert _error(protobuf, 422, "invalid_schema")["error_code"] == 42201

    assert api.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    assert api.get("/schemas/types").json() == ["AVRO"]
    with pytest.raises(SchemaRegistryError) as refused:
        # (not a schema it looked up: the client answers those from its cache)
        client.register_schema(subject, Schema('"int"', "AVRO"))
    assert (refused.value.http_status_code, refused.value.error_code) == (403, 40301)
    for method, path in (("DELETE", f"/subjects/{subject}"), ("PUT", "/config"),
                         ("DELETE", f"/subjects/{subject}/versions/1")):  # fmt: skip
        answer = httpx.request(method, f"{api.url}{path}", json={}, timeout=30)
        assert _error(answer, 403, "read_only_registry")["error_code"] == 40301


def test_health_metrics_openapi_and_the_web_page(api: Api) -> None:
    assert api.get("/healthz").json() == {"status": "ok", "database": "up"}
    metrics = api.get("/metrics").text
    assert 'zjcredit_query_requests_total{method="GET",route="/v1/enterprises/{uscc}"' in metrics
    assert "zjcredit_query_database_up 1.0" in metrics
    spec = api.get("/openapi.json").json()
    assert {"/v1/enterprises/{uscc}", "/v1/enterprises", "/v1/enterprises/{uscc}/history",
            "/v1/blacklist", "/v1/penalties", "/v1/priority", "/v1/stats", "/schemas/ids/{schema_id}",
            "/v1/enterprises/lookup",
            "/subjects", "/subjects/{subject}/versions/{version}", "/healthz"} <= set(spec["paths"])  # fmt: skip
    assert api.get("/docs").status_code == 200
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


def test_zjcredit_query_prints_an_aligned_profile_and_json(api: Api) -> None:
    uscc = _listed(api)
    env = {"ZJCREDIT_API_URL": api.url}

    shown = zjcredit(["query", uscc], api.model.database_url, api.model.prefix, env)

    assert shown.returncode == 0, shown.stderr
    # The labelled block: "  <label><spaces><value>"; every value starts in one column,
    # counted in display cells (a Chinese character takes two).
    block = shown.stdout.split("\n\n")[1].splitlines()
    starts = set()
    for line in block:
        label = re.match(r"^  (.+?\S)\s{2,}\S", line)
        assert label, line
        starts.add(display_width(line[: label.end() - 1]))
    assert len(block) >= 14, shown.stdout
    assert len(starts) == 1, shown.stdout
    assert "统一社会信用代码" in shown.stdout
    assert uscc in shown.stdout
    assert "失信名单" in shown.stdout
    assert "(不公开 not shown" in shown.stdout

    as_json = zjcredit(["query", uscc, "--json"], api.model.database_url, api.model.prefix,
                       {**env, "ZJCREDIT_API_KEY": api.keys["bank"]})  # fmt: skip
    assert json.loads(as_json.stdout)["role"] == "bank"

    name = api.model.expected.profiles[uscc]["name"]
    found = zjcredit(["query", "--name", name], api.model.database_url, api.model.prefix, env)
    assert found.returncode == 0
    assert uscc in found.stdout
    assert "找到" in found.stdout
    bad = zjcredit(["query", "91330100716105852G"], api.model.database_url, api.model.prefix, env)
    assert bad.returncode == 2
    assert "invalid_credit_code" in bad.stderr


# --- hardening -------------------------------------------------------------------------------


def test_every_kind_of_answer_has_the_security_headers(api: Api) -> None:
    uscc = _listed(api)
    answers = {
        path: api.get(path)
        for path in ("/", "/static/app.js", "/docs", "/docs/assets/swagger-ui-bundle.js",
                     "/openapi.json", "/metrics", "/healthz", "/subjects", "/schemas/ids/1",
                     f"/v1/enterprises/{uscc}", "/v1/enterprises?q=%E6%9C%89%E9%99%90%E5%85%AC",
                     "/v1/stats", "/v1/enterprises/91330100716105852G", "/nowhere")
    }  # fmt: skip
    for path, answer in answers.items():
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        assert "access-control-allow-origin" not in answer.headers, path  # CORS is off
    assert "cdn" not in answers["/docs"].text.lower()
    cache = {path: a.headers["cache-control"] for path, a in answers.items()}
    assert cache["/subjects"] == cache["/schemas/ids/1"] == "public, max-age=86400"
    assert cache[f"/v1/enterprises/{uscc}"] == "private, no-cache"
    assert cache["/v1/enterprises/91330100716105852G"] == cache["/nowhere"] == "no-store"
    assert cache["/v1/stats"].startswith("private, max-age=")


def test_a_profile_revalidated_by_its_etag_is_304(api: Api) -> None:
    uscc = _listed(api)
    version = api.sql("select version from credit.enterprise where uscc = $1", uscc)[0][0]
    first = api.get(f"/v1/enterprises/{uscc}")
    assert first.headers["etag"] == f'"{uscc}.{version}.public"'
    url = f"{api.url}/v1/enterprises/{uscc.lower()}"
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]}, timeout=30)
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == first.headers["etag"]
    bank = httpx.get(url, headers={"If-None-Match": first.headers["etag"],
                                   "X-API-Key": api.keys["bank"]}, timeout=30)  # fmt: skip
    assert bank.status_code == 200
    assert bank.json()["role"] == "bank"
    assert bank.headers["etag"] == f'"{uscc}.{version}.bank"'


def test_a_query_past_the_statement_timeout_is_a_503_and_frees_the_pool(api: Api) -> None:
    """A lock on the enterprises (as a long migration or a stuck writer would hold) makes
    every read of them wait: the server cancels each at 2 s instead of letting 8 of them
    hold the whole pool; routes that read nothing of the table still answer."""
    uscc = _listed(api)
    kept = api.get("/v1/stats")
    assert kept.status_code == 200

    async def go() -> tuple[list[httpx.Response], list[httpx.Response], float]:
        conn = await asyncpg.connect(api.model.database_url)
        try:
            async with conn.transaction():
                await conn.execute("lock table credit.enterprise in access exclusive mode")
                async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
                    started = asyncio.get_running_loop().time()
                    slow = await asyncio.gather(*(
                        client.get(f"/v1/enterprises/{uscc}") for _ in range(8)
                    ))  # fmt: skip
                    took = asyncio.get_running_loop().time() - started
                    others = [await client.get(p) for p in ("/healthz", "/v1/stats", "/subjects")]
        finally:
            await conn.close()
        return slow, others, took

    slow, others, took = asyncio.run(go())
    for answer in slow:
        body = _error(answer, 503, "query_timeout")
        assert "time limit" in body["message"]
        assert answer.headers["retry-after"] == "5"
        assert answer.headers["cache-control"] == "no-store"
    assert took < 15, took  # each cancelled at 2 s (8 at once fit the pool of 8)
    assert [a.status_code for a in others] == [200, 200, 200]
    assert others[1].content == kept.content  # the kept counts, not a new aggregate
    assert "zjcredit_query_database_up 1.0" in api.get("/metrics").text
    assert api.get(f"/v1/enterprises/{uscc}").status_code == 200  # the lock gone


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_over_the_rate_limit_is_429_with_retry_after(api: Api, tmp_path: Path,
                                                     server: str) -> None:  # fmt: skip
    """A second service over the same read model, with limits set as an operator would:
    6 a minute per address (a bucket of 1, refilled in 10 s), 12 per key (2); on each of
    the ASGI servers `zjcredit serve --server` offers, answering the same profile."""
    limited = QueryService(api.model.database_url, api.model.prefix, tmp_path / "serve.log",
                           migrate=False, env={"ZJCREDIT_RATE_LIMIT": "6",
                                               "ZJCREDIT_KEY_RATE_LIMIT": "12"},
                           server=server)  # fmt: skip
    try:
        url = f"{limited.url}/v1/enterprises/{_listed(api)}"
        public = [httpx.get(url, timeout=30) for _ in range(2)]
        bank = [httpx.get(url, headers={"X-API-Key": api.keys["bank"]}, timeout=30)
                for _ in range(3)]  # fmt: skip
        health = httpx.get(f"{limited.url}/healthz", timeout=30)
        # Behind a proxy on this host (trusted: 127.0.0.1), each client has its own bucket.
        proxied = [httpx.get(url, headers={"X-Forwarded-For": f"203.0.113.{n}"}, timeout=30)
                   for n in (7, 8, 7)]  # fmt: skip
    finally:
        assert limited.stop() == 0, limited.logs()
    assert [a.status_code for a in proxied] == [200, 200, 429]
    assert [a.status_code for a in public] == [200, 429]
    same = httpx.get(f"{api.url}/v1/enterprises/{_listed(api)}", timeout=30)
    assert public[0].content == same.content
    assert public[0].headers["etag"] == same.headers["etag"]
    _error(public[-1], 429, "too_many_requests")
    assert 8 <= int(public[-1].headers["retry-after"]) <= 10
    assert public[-1].headers["x-content-type-options"] == "nosniff"
    # The bank's key has its own bucket, though its address has none left.
    assert [a.status_code for a in bank] == [200, 200, 429]
    assert health.status_code == 200


def test_zjcredit_query_file_looks_up_each_code(api: Api, tmp_path: Any) -> None:
    found = sorted(api.model.expected.profiles)[:3]
    unknown = make_code("91", "330100", "MAPLE002")
    listing = tmp_path / "codes.txt"
    listing.write_text(
        "\ufeff# 测试银行 贷后名单\n" + f"{found[0]}\n\n  {found[1].lower()}  # 小写\n{found[2]}\n"
        f"{unknown}\n91330100716105852G\n", encoding="utf-8",
    )  # fmt: skip
    env = {"ZJCREDIT_API_URL": api.url}

    shown = zjcredit(["query", "--file", str(listing)], api.model.database_url,
                     api.model.prefix, env)  # fmt: skip

    assert shown.returncode == 1, shown.stderr
    assert shown.stdout.count("企业信用档案 Enterprise credit profile") == 3
    assert all(code in shown.stdout for code in found)
    assert "查到 found 3 of 5 · 未找到 not found 1 · 格式错误 malformed 1" in shown.stdout
    assert f"  {unknown}" in shown.stdout
    assert re.search(r"91330100716105852G\s+check_char", shown.stdout)

    as_json = zjcredit(["query", "--file", str(listing), "--json"], api.model.database_url,
                       api.model.prefix, {**env, "ZJCREDIT_API_KEY": api.keys["bank"]})  # fmt: skip
    assert as_json.returncode == 1
    body = json.loads(as_json.stdout)
    assert body["role"] == "bank"
    assert [p["uscc"] for p in body["profiles"]] == found
    assert body["profiles"][0] == api.get(f"/v1/enterprises/{found[0]}", "bank").json()
    assert body["not_found"] == [unknown]

    listing.write_text("\n".join(found), encoding="utf-8")
    all_found = zjcredit(["query", "--file", str(listing)], api.model.database_url,
                         api.model.prefix, env)  # fmt: skip
    assert all_found.returncode == 0, all_found.stderr
    piped = zjcredit(["query", "--file", "-", "--json"], api.model.database_url,
                     api.model.prefix, env, stdin="\n".join(found[:2]))  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert [p["uscc"] for p in json.loads(piped.stdout)["profiles"]] == found[:2]
    latin = tmp_path / "latin.txt"
    latin.write_bytes("公司".encode("gb18030") + b"\n")
    refused = zjcredit(["query", "--file", str(latin)], api.model.database_url,
                       api.model.prefix, env)  # fmt: skip
    assert refused.returncode == 2
    assert "not UTF-8" in refused.stderr


# --- fuzzing ---------------------------------------------------------------------------------

# Examples per operation and mode (valid, invalid): 19 operations, ~15 s on 2 busy cores.
FUZZ_EXAMPLES = 15


def test_fuzzed_requests_get_no_5xx_and_documented_answers(api: Api) -> None:
    """schemathesis generates requests (valid and invalid) from /openapi.json: no 5xx, and
    every answer's status, content type and body are as the schema documents.

    One test walking the operations (schemathesis' pytest fixture loader does not run
    on this pytest), each under hypothesis with a fixed example budget.
    """
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 26  # 17 /v1 routes, 8 registry paths, /healthz
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    no_invalid: list[str] = []
    for operation, mode in itertools.product(operations, modes):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def call(case: Any) -> None:
            case.call_and_validate(
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                ]
            )

        try:
            call()
        except Unsatisfiable:
            # An operation without parameters has no invalid request to make.
            assert mode is GenerationMode.NEGATIVE, operation.label
            no_invalid.append(operation.label)
    assert len(no_invalid) < len(operations) // 2, no_invalid
