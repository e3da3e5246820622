"""``POST /v1/ingest/{source}`` when things go wrong: Kafka lost in the middle of an
upload (the answer says how many rows are safely in Kafka, and sending the same file
again completes it without a duplicate id), and a second upload while one is being
received (503 ``ingest_busy``, not queued)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx

from base.settings import Settings
from producers.generator import generate
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from schemas.uscc import make_code
from tests.outputs import broker_killed_once_written, read_topic
from tests.queryservice import QueryService, zjcredit
from tests.readmodel import fetch
from zjcredit.stack import KafkaBroker, ensure_jars

codec = Codec(ManifestRegistry.load())
PREFIX = "ingestlost"


def _sat_key(database_url: str) -> str:
    made = zjcredit(["keys", "create", "--name", "税务局", "--role", "department",
                     "--department", "SAT"], database_url, PREFIX)  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def _upload(url: str, key: str, body: bytes | Iterator[bytes]) -> httpx.Response:
    return httpx.post(f"{url}/v1/ingest/tax", content=body, timeout=120,
                      headers={"X-API-Key": key, "Content-Type": "text/csv"})  # fmt: skip


def _in_progress(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("zjcredit_query_ingest_in_progress "):
            return float(line.split()[1])
    raise AssertionError("no zjcredit_query_ingest_in_progress on /metrics")


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def _ids(bootstrap: str) -> list[str]:
    return [str(codec.decode(v)[0]["event_id"]) for _, v in read_topic(bootstrap, f"{PREFIX}.tax")]


def test_kafka_lost_mid_upload_the_answer_says_what_is_safe_and_a_resend_completes_it(
    settings: Settings, database_url: str, open_tmp_path: Path, tmp_path: Path
) -> None:
    report = generate(6_000, seed=5, out_dir=tmp_path)
    body = report.paths["tax"].read_bytes()
    jars = ensure_jars(settings.cache_dir)
    broker = KafkaBroker(jars_dir=jars, work_dir=open_tmp_path / "kafka")
    first = broker.start()
    create_topics(first, project_topics(replace(settings, topic_prefix=PREFIX, partitions=2)))
    env = {"KAFKA_BOOTSTRAP_SERVERS": first, "ZJCREDIT_INGEST_MAX_MIB": "32"}
    service = QueryService(database_url, PREFIX, tmp_path / "serve.log", env=env)
    try:
        key = _sat_key(database_url)
        try:
            with broker_killed_once_written(first, f"{PREFIX}.tax", 2_000, broker.pid or 0):
                lost = _upload(service.url, key, body)
        finally:
            broker.stop()
        assert lost.status_code == 503, lost.text
        answer = lost.json()
        assert answer["error"] == "publishing_failed"
        safe = re.search(r"; (\d+) of (\d+) rows are safely in Kafka", answer["message"])
        assert safe is not None, answer["message"]
        acknowledged, read = int(safe.group(1)), int(safe.group(2))
        assert acknowledged < read <= report.rows["tax"]
        recorded = fetch(database_url, "select acknowledged, error from access.ingest")
        assert [(r["acknowledged"], bool(r["error"])) for r in recorded] == [(acknowledged, True)]

        again = KafkaBroker(jars_dir=jars, work_dir=open_tmp_path / "kafka")  # the same data
        second = again.start()
        try:
            assert len(_ids(second)) >= acknowledged  # what the answer called safe is there
            service.stop()
            env["KAFKA_BOOTSTRAP_SERVERS"] = second
            service = QueryService(database_url, PREFIX, tmp_path / "serve2.log", env=env)
            done = _upload(service.url, key, body)
            assert done.status_code == 200, done.text
            assert done.json()["acknowledged"] == done.json()["read"] - done.json()["rejected"]
            ids = _ids(second)
            assert len(set(ids)) == done.json()["acknowledged"]  # every row, once by its id
        finally:
            again.stop()
    finally:
        service.stop()


def test_a_second_upload_while_one_is_received_is_told_to_retry(
    bootstrap_servers: str, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    create_topics(bootstrap_servers,
                  project_topics(replace(settings, topic_prefix=PREFIX)))  # fmt: skip
    header = b"uscc,department,occurred_at,event_type,tax_year,grade,score,direct_judgement\n"
    row = f"{make_code('91', '330106', 'BUXY0001')},SAT,2026-04-20 09:30,GRADE_ASSESSED,2025,A,95.5,否\n"
    row_bytes = row.encode()
    go_on = threading.Event()
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers}
    service = QueryService(database_url, PREFIX, tmp_path / "serve.log", env=env)

    def slow_body() -> Iterator[bytes]:  # holds the first upload's turn until told
        yield header
        go_on.wait(60)
        yield row_bytes

    try:
        key = _sat_key(database_url)
        first: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: first.append(_upload(service.url, key,
                                                                      slow_body())))  # fmt: skip
        sender.start()
        # The service says when it holds the first upload's turn: no race with the probe.
        wait_until(lambda: _in_progress(service.url) == 1, 30, "the first upload's turn")
        busy = _upload(service.url, key, header + row_bytes)
        go_on.set()
        sender.join(60)
        assert busy.status_code == 503, busy.text
        assert busy.json()["error"] == "ingest_busy"
        assert busy.headers["retry-after"] == "5"
        assert first[0].status_code == 200, first[0].text
        assert first[0].json()["acknowledged"] == 1, first[0].json()
        assert _in_progress(service.url) == 0
    finally:
        go_on.set()
        assert service.stop() == 0, service.logs()
