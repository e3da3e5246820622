"""``POST /v1/ingest/{source}`` on the real broker and PostgreSQL: a department without
Kafka sends its file over HTTP; Kafka holds what the answer says, exactly; the same file
twice is harmless; only the owning department sends; every upload is recorded."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from base.endpoints import Endpoints
from base.settings import Settings
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from schemas.uscc import make_code
from tests.outputs import read_topic
from tests.queryservice import QueryService, zjcredit
from tests.readmodel import fetch

FIRMS = [make_code("91", "330106", f"HTTP{n:04d}") for n in range(3)]
HEADER = "uscc,department,occurred_at,event_type,tax_year,grade,score,direct_judgement\n"
GOOD = [
    f"{FIRMS[0]},SAT,2026-04-20 09:30,GRADE_ASSESSED,2025,A,95.5,否\n",
    f"{FIRMS[1]},,2026-04-20 09:30,GRADE_ASSESSED,2025,B,80,否\n",  # its department: the key's
]
BAD = [
    f"{FIRMS[2]},SAMR,2026-04-20 09:30,GRADE_ASSESSED,2025,A,95.5,否\n",  # not the key's
    "91330106NOTACODE,SAT,2026-04-20 09:30,GRADE_ASSESSED,2025,A,95.5,否\n",
]
CSV = (HEADER + GOOD[0] + BAD[0] + GOOD[1] + BAD[1]).encode("utf-8")


@dataclass
class Service:
    url: str
    prefix: str
    database_url: str
    bootstrap_servers: str
    keys: dict[str, str]

    def send(self, source: str, body: bytes, key: str | None = "SAT",
             content_type: str = "text/csv", **params: Any) -> httpx.Response:  # fmt: skip
        headers = {"Content-Type": content_type}
        if key is not None:
            headers["X-API-Key"] = self.keys[key]
        return httpx.post(f"{self.url}/v1/ingest/{source}", content=body, headers=headers,
                          params=params, timeout=60)  # fmt: skip


def _key(database_url: str, prefix: str, *args: str) -> str:
    made = zjcredit(["keys", "create", "--name", "测试", *args], database_url, prefix)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture
def service(stack: Endpoints, settings: Settings, database_url: str, tmp_path: Path,
            unique_name: Callable[[str], str]) -> Iterator[Service]:  # fmt: skip
    prefix = unique_name("ingest")
    create_topics(stack.bootstrap_servers, project_topics(replace(settings, topic_prefix=prefix)))
    env = {"KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers, "ZJCREDIT_INGEST_MAX_MIB": "1"}
    running = QueryService(database_url, prefix, tmp_path / "serve.log", env=env)
    try:
        keys = {
            "SAT": _key(database_url, prefix, "--role", "department", "--department", "SAT"),
            "SAMR": _key(database_url, prefix, "--role", "department", "--department", "SAMR"),
            "nameless": _key(database_url, prefix, "--role", "department"),
            "bank": _key(database_url, prefix, "--role", "bank"),
        }
        yield Service(running.url, prefix, database_url, stack.bootstrap_servers, keys)
    finally:
        assert running.stop() == 0, running.logs()


def _events(service: Service, source: str) -> list[dict[str, Any]]:
    codec = Codec(ManifestRegistry.load())
    topic = f"{service.prefix}.{source}"
    return [codec.decode(value)[0] for _, value in read_topic(service.bootstrap_servers, topic)]


def test_an_upload_is_published_acknowledged_summarised_and_recorded(service: Service) -> None:
    answer = service.send("tax", CSV, name="2025年纳税信用.csv")
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["read"], summary["sent"], summary["acknowledged"], summary["rejected"]) == (
        4, 2, 2, 2)  # fmt: skip
    assert summary["rejects_by_reason"] == {"wrong_department": 1, "invalid_credit_code": 1}
    assert summary["department"] == "SAT"
    assert [(r["line"], r["reason"]) for r in summary["rejected_rows"]] == [
        (3, "wrong_department"), (5, "invalid_credit_code")]  # fmt: skip
    assert summary["rejected_rows"][0]["row"]["uscc"] == FIRMS[2]

    events = _events(service, "tax")
    assert sorted(e["uscc"] for e in events) == FIRMS[:2]
    assert {e["department"] for e in events} == {"SAT"}

    # The same file again: the same event ids, folded away downstream.
    again = service.send("tax", CSV)
    assert again.status_code == 200, again.text
    assert again.json()["acknowledged"] == 2
    ids = [e["event_id"] for e in _events(service, "tax")]
    assert len(ids) == 4
    assert len(set(ids)) == 2

    recorded = fetch(service.database_url,
                     "select k.name, i.department, i.source, i.name as file, i.bytes, i.read, "
                     "i.acknowledged, i.rejected from access.ingest i "
                     "join access.api_key k using (key_id) order by i.at")  # fmt: skip
    assert [(r["department"], r["source"], r["file"], r["bytes"], r["read"], r["acknowledged"],
             r["rejected"]) for r in recorded] == [
        ("SAT", "tax", "2025年纳税信用.csv", len(CSV), 4, 2, 2),
        ("SAT", "tax", None, len(CSV), 4, 2, 2),
    ]  # fmt: skip


def test_only_the_owning_departments_key_sends_and_bad_uploads_are_clear(
    service: Service,
) -> None:
    def error(answer: httpx.Response, status: int, code: str) -> str:
        assert answer.status_code == status, answer.text
        assert answer.json()["error"] == code, answer.text
        return str(answer.json()["message"])

    assert "SAT's" in error(service.send("tax", CSV, key="SAMR"), 403, "forbidden")
    assert "SAMR" in error(service.send("enterprise", CSV, key="SAT"), 403, "forbidden")
    assert "--department" in error(service.send("tax", CSV, key="nameless"), 403, "forbidden")
    error(service.send("tax", CSV, key="bank"), 403, "forbidden")
    error(service.send("tax", CSV, key=None), 401, "unauthorized")
    assert "sources" in error(service.send("patents", CSV), 422, "invalid_parameter")
    error(service.send("tax", CSV, content_type="application/pdf"), 415, "unsupported_media_type")
    big = HEADER.encode() + GOOD[0].encode() * (2 * 1024 * 1024 // len(GOOD[0]))
    assert "zjcredit produce" in error(service.send("tax", big), 413, "payload_too_large")
    assert _events(service, "tax") == []  # none of these sent a row
    assert fetch(service.database_url, "select count(*) from access.ingest")[0][0] == 0

    lines = (f'{{"uscc": "{FIRMS[0]}", "occurred_at": "2026-04-20 09:30", '
             '"event_type": "GRADE_ASSESSED", "tax_year": 2025, "grade": "M"}\n')  # fmt: skip
    answer = service.send("tax", lines.encode(), content_type="application/x-ndjson")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["acknowledged"], answer.json()["rejected"]) == (1, 0)


def test_the_intellectual_property_office_sends_patents_and_only_it(service: Service) -> None:
    """The patent source over HTTP: its owner is CNIPA (知识产权局), as schemas/owners.py says."""
    body = (Path(__file__).parents[2] / "examples" / "patent.csv").read_bytes()
    forbidden = service.send("patent", body, key="SAMR")
    assert forbidden.status_code == 403, forbidden.text
    assert "CNIPA's" in forbidden.json()["message"]
    service.keys["CNIPA"] = _key(service.database_url, service.prefix, "--role", "department",
                                 "--department", "CNIPA")  # fmt: skip
    answer = service.send("patent", body, key="CNIPA", name="专利.csv")
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["source"], summary["department"]) == ("patent", "CNIPA")
    assert (summary["read"], summary["acknowledged"], summary["rejected"]) == (11, 11, 0)
    events = _events(service, "patent")
    assert len(events) == 11
    assert {e["department"] for e in events} == {"CNIPA"}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook(text: str) -> bytes:
    """The CSV as a clerk's workbook: Chinese headers, dates as Excel dates, numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "纳税信用"
    rows = list(csv.reader(io.StringIO(text)))
    sheet.append(["统一社会信用代码", "报送部门", "发生时间", "事件类型", "评价年度",
                  "纳税信用级别", "评价得分", "直接判级"])  # fmt: skip
    for row in rows[1:]:
        occurred = dt.datetime.strptime(row[2], "%Y-%m-%d %H:%M")
        sheet.append([row[0], row[1] or None, occurred, row[3], int(row[4]), row[5],
                      float(row[6]), row[7]])  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_and_a_gb18030_file_are_read_as_the_csv_is(service: Service) -> None:
    answer = service.send("tax", _workbook(CSV.decode()), content_type=XLSX, name="纳税信用.xlsx")
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["read"], summary["acknowledged"], summary["rejected"]) == (4, 2, 2)
    assert (summary["sheet"], summary["encoding"]) == ("纳税信用", "UTF-8")
    assert [(r["line"], r["reason"]) for r in summary["rejected_rows"]] == [
        (3, "wrong_department"), (5, "invalid_credit_code")]  # fmt: skip
    from_sheet = sorted(str(e["event_id"]) for e in _events(service, "tax"))
    assert len(from_sheet) == 2

    gb = service.send("tax", CSV.decode().encode("gb18030"))
    assert gb.status_code == 200, gb.text
    assert (gb.json()["encoding"], gb.json()["acknowledged"]) == ("GB18030", 2)
    # Same facts, same ids: the workbook's events are the CSV's.
    assert sorted(str(e["event_id"]) for e in _events(service, "tax")) == sorted(from_sheet * 2)

    # A charset other than UTF-8 is used; charset=utf-8 (which clients add to anything) is
    # not trusted over detection; an unknown one is refused before the body is read.
    forced = service.send("tax", CSV.decode().encode("gbk"), content_type="text/csv; charset=GBK")
    assert (forced.status_code, forced.json()["encoding"]) == (200, "GBK"), forced.text
    said = service.send("tax", CSV.decode().encode("gb18030"),
                        content_type="text/csv; charset=utf-8")  # fmt: skip
    assert (said.status_code, said.json()["encoding"]) == (200, "GB18030"), said.text
    unknown = service.send("tax", CSV, content_type="text/csv; charset=klingon")
    assert unknown.status_code == 415, unknown.text
    no_sheet = service.send("tax", _workbook(CSV.decode()), content_type=XLSX, sheet="名单")
    assert no_sheet.status_code == 422, no_sheet.text
    assert "the body has no sheet '名单'; its sheets: '纳税信用'" in no_sheet.json()["message"]

    broken = service.send("tax", b"PK\x03\x04 not a workbook", content_type=XLSX)
    assert broken.status_code == 422, broken.text
    assert broken.json()["error"] == "unreadable_file"
    assert "the body is not an Excel workbook" in broken.json()["message"]
    recorded = fetch(service.database_url,
                     "select read, error from access.ingest order by at")  # fmt: skip
    assert [r["read"] for r in recorded] == [4, 4, 4, 4, 0, 0]
    assert "not an Excel workbook" in recorded[-1]["error"]
