"""Departments' files into the real broker: everything acknowledged is there, exactly."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from base.settings import Settings
from producers.generator import generate
from producers.produce import EXIT_OK, EXIT_PUBLISH_FAILED, EXIT_REJECTS, EXIT_USAGE, produce_file
from producers.readers import read_rows
from producers.rows import RowParser
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog
from schemas.topics import create_topics, project_topics
from tests.outputs import broker_killed_once_written
from zjcredit.stack import KafkaBroker, ensure_jars

registry = ManifestRegistry.load()
codec = Codec(registry)
EXAMPLES = Path(__file__).parents[2] / "examples"
# Fast failure when the broker is gone: the defaults are sized for a clerk's patience.
IMPATIENT = {
    "delivery_timeout_ms": 6000,
    "request_timeout_ms": 2000,
    "max_block_ms": 3000,
    "bootstrap_timeout_ms": 2000,
}


@pytest.fixture
def prefix(bootstrap_servers: str, settings: Settings, unique_name: Callable[[str], str]) -> str:
    name = unique_name("produce")
    create_topics(bootstrap_servers, project_topics(replace(settings, topic_prefix=name)))
    return name


def consume_all(bootstrap_servers: str, topic: str) -> list[Any]:
    """Every record of ``topic`` up to its current end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def expected_events(source: str, path: Path) -> list[dict[str, Any]]:
    parser = RowParser(source, registry.latest(source), load_catalog())
    now = dt.datetime.now(dt.UTC)
    return [parser.parse(row.fields, now) for row in read_rows(path) if row.fields is not None]


def test_a_generated_province_arrives_complete_in_order_and_decodable(
    bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    report = generate(20_000, seed=3, out_dir=tmp_path)
    for source in SOURCES:
        summary = produce_file(source, report.paths[source], bootstrap_servers=bootstrap_servers,
                               topic_prefix=prefix, show_progress=False)  # fmt: skip
        assert summary.exit_code == EXIT_OK, summary.lines()
        assert summary.acknowledged == summary.read == report.rows[source]

        records = consume_all(bootstrap_servers, f"{prefix}.{source}")
        expected = expected_events(source, report.paths[source])
        assert len(records) == len(expected) == report.rows[source]
        decoded = {}
        order: dict[str, list[str]] = defaultdict(list)
        for record in records:
            event, writer = codec.decode(record.value)
            assert writer.subject == source
            assert record.key == event["uscc"].encode()
            decoded[str(event["event_id"])] = event
            order[event["uscc"]].append(str(event["event_id"]))
        for event in expected:
            got = decoded[event["event_id"]]
            assert {**got, "event_id": str(got["event_id"])} == event
        file_order: dict[str, list[str]] = defaultdict(list)
        for event in expected:
            file_order[event["uscc"]].append(event["event_id"])
        assert order == file_order, "an enterprise's events were reordered"


def test_bad_rows_are_all_rejected_with_their_reason_and_the_rest_sent(
    bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    report = generate(1_500, seed=11, out_dir=tmp_path, bad_rows=0.02)
    planted = [json.loads(line) for line in report.bad_rows_path.read_text().splitlines()]
    assert planted, "the generator planted no bad rows"
    for source in SOURCES:
        path = report.paths[source]
        summary = produce_file(source, path, bootstrap_servers=bootstrap_servers,
                               topic_prefix=prefix, show_progress=False)  # fmt: skip
        want = sorted((b["line"], b["reason"]) for b in planted if b["file"] == path.name)
        rejects_file = path.with_name(path.name + ".rejects.jsonl")
        got = []
        if rejects_file.exists():
            got = sorted((r["line"], r["reason"])
                         for r in map(json.loads, rejects_file.read_text().splitlines()))  # fmt: skip
        assert got == want, source
        assert summary.rejected == len(want)
        assert summary.acknowledged == summary.read - len(want)
        assert summary.exit_code == (EXIT_REJECTS if want else EXIT_OK)
        assert len(consume_all(bootstrap_servers, f"{prefix}.{source}")) == summary.acknowledged


def _patent_copies(tmp_path: Path) -> list[Path]:
    """examples/patent.csv (Chinese headers, ZL numbers, 发明/外观设计) plus one row whose
    check digit is wrong, as CSV, as JSON Lines and as a workbook with typed date cells."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    import openpyxl  # noqa: PLC0415

    text = (EXAMPLES / "patent.csv").read_text("utf-8")
    header, first = text.splitlines()[:2]
    bad = first.replace("ZL03312345.4", "ZL03312345.5")  # the check character is 4
    text += bad + "\n"
    as_csv = tmp_path / "patent.csv"
    as_csv.write_text(text, "utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    as_jsonl = tmp_path / "patent.jsonl"
    as_jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    names = header.split(",")
    sheet.append(names)
    for row in rows:  # dates as Excel dates, as a clerk's sheet holds them
        sheet.append([dt.date.fromisoformat(v) if n.endswith("日") and v else v or None
                      for n, v in ((n, row[n]) for n in names)])  # fmt: skip
    as_xlsx = tmp_path / "patent.xlsx"
    book.save(as_xlsx)
    return [as_csv, as_jsonl, as_xlsx]


def test_a_patent_file_as_csv_jsonl_or_xlsx_reaches_the_patent_topic(
    bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    """The new source end to end up to the topic: the transfer under both codes, the bad
    check digit rejected with its reason and line, the same events from every format."""
    copies = _patent_copies(tmp_path)
    good = expected_events("patent", EXAMPLES / "patent.csv")
    assert len(good) == 11
    for path in copies:
        summary = produce_file("patent", path, bootstrap_servers=bootstrap_servers,
                               topic_prefix=prefix, show_progress=False)  # fmt: skip
        assert summary.exit_code == EXIT_REJECTS, summary.lines()
        assert (summary.read, summary.acknowledged, summary.rejected) == (12, 11, 1)
        assert summary.rejects_file is not None
        rejects = [json.loads(line) for line in summary.rejects_file.read_text().splitlines()]
        line = 12 if path.suffix == ".jsonl" else 13  # the CSV and the sheet have a header
        assert [(r["line"], r["field"], r["reason"]) for r in rejects] == [
            (line, "patent_no", "patent_check_digit")
        ], path.name
    records = consume_all(bootstrap_servers, f"{prefix}.patent")
    assert len(records) == 3 * len(good)
    events = {}
    for record in records:
        event, writer = codec.decode(record.value)
        assert (writer.subject, writer.id) == ("patent", registry.latest("patent").id)
        assert record.key == event["uscc"].encode()
        events.setdefault(str(event["event_id"]), []).append(event)
    # Content-derived ids: the three files are the same 11 events, each sent three times.
    assert sorted(events) == sorted(e["event_id"] for e in good)
    assert {len(copies) for copies in events.values()} == {3}
    by_id = {e["event_id"]: e for e in good}
    for event_id, sent in events.items():
        assert all({**e, "event_id": str(e["event_id"])} == by_id[event_id] for e in sent)
    moved = {e["event_type"]: e for e in good if e["event_type"].startswith("TRANSFERRED")}
    assert moved["TRANSFERRED_OUT"]["uscc"] == moved["TRANSFERRED_IN"]["transferor_uscc"]
    assert moved["TRANSFERRED_IN"]["uscc"] == moved["TRANSFERRED_OUT"]["transferee_uscc"]
    assert {e["patent_no"] for e in good} >= {"03312345.4", "201510300456.4"}  # ZL dropped
    assert {e["patent_kind"] for e in good if e["event_type"] == "GRANTED"} == {
        "INVENTION", "UTILITY_MODEL", "DESIGN"}  # fmt: skip


def test_a_broker_that_is_down_fails_clearly(tmp_path: Path) -> None:
    report = generate(20, seed=1, out_dir=tmp_path)
    summary = produce_file("tax", report.paths["tax"], bootstrap_servers="127.0.0.1:9",
                           show_progress=False, producer_config=IMPATIENT)  # fmt: skip
    assert summary.exit_code == EXIT_PUBLISH_FAILED
    assert "cannot reach Kafka at 127.0.0.1:9" in (summary.error or "")
    assert summary.acknowledged == 0


def test_a_broker_lost_mid_file_then_a_rerun_loses_and_doubles_nothing(
    settings: Settings, open_tmp_path: Path, tmp_path: Path
) -> None:
    """Acknowledged rows are in Kafka; the rerun fills the gap; ids make duplicates visible.

    With bad rows in the file, every row read is sent or in the rejects file, even when
    the broker dies in the middle of a chunk.
    """
    report = generate(6_000, seed=5, out_dir=tmp_path, bad_rows=0.05)
    path = report.paths["tax"]
    jars = ensure_jars(settings.cache_dir)
    broker = KafkaBroker(jars_dir=jars, work_dir=open_tmp_path / "kafka")
    first = broker.start()
    create_topics(first, project_topics(replace(settings, topic_prefix="lost", partitions=2)))
    try:
        with broker_killed_once_written(first, "lost.tax", 2_000, broker.pid or 0):
            summary = produce_file("tax", path, bootstrap_servers=first, topic_prefix="lost",
                                   show_progress=False, producer_config=IMPATIENT, workers=0)  # fmt: skip
    finally:
        broker.stop()
    assert summary.exit_code == EXIT_PUBLISH_FAILED, summary.lines()
    assert summary.acknowledged < report.rows["tax"]
    assert any("safely in Kafka" in line for line in summary.lines())
    assert summary.read == summary.sent + summary.rejected, summary.lines()
    assert summary.rejected > 0
    rejects = path.with_name(path.name + ".rejects.jsonl").read_text("utf-8").splitlines()
    assert len(rejects) == summary.rejected

    again = KafkaBroker(jars_dir=jars, work_dir=open_tmp_path / "kafka")  # same data
    second = again.start()
    try:
        kept = consume_all(second, "lost.tax")
        assert len(kept) >= summary.acknowledged
        rerun = produce_file("tax", path, bootstrap_servers=second, topic_prefix="lost",
                             show_progress=False)  # fmt: skip
        assert rerun.exit_code == EXIT_REJECTS
        assert rerun.read == report.rows["tax"] == rerun.sent + rerun.rejected
        ids = {str(codec.decode(r.value)[0]["event_id"]) for r in consume_all(second, "lost.tax")}
        assert ids == _good_event_ids("tax", path), "a row is missing after the rerun"
    finally:
        again.stop()


def _good_event_ids(source: str, path: Path) -> set[str]:
    """The event id of every row of ``path`` the real parser accepts."""
    parser = RowParser(source, ManifestRegistry.load().latest(source), load_catalog())
    now = dt.datetime.now(dt.UTC)
    ids = set()
    for row in read_rows(path):
        try:
            ids.add(parser.parse(row.fields or {}, now)["event_id"])
        except Exception:  # noqa: BLE001, S112 - a rejected row has no id to find
            continue
    return ids


def _command(args: list[str], data: bytes, bootstrap: str, prefix: str,
             cwd: Path) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    """``zjcredit produce`` as a pipeline runs it: its own process, the file on stdin."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ZJCREDIT_TOPIC_PREFIX": prefix}
    return subprocess.run([sys.executable, "-m", "zjcredit", "produce", *args], input=data,
                          capture_output=True, env=env, cwd=cwd, timeout=120, check=False)  # fmt: skip


def test_the_command_sends_a_gb18030_chinese_header_file_from_stdin(
    bootstrap_servers: str, prefix: str, tmp_path: Path
) -> None:
    english = tmp_path / "enterprise.csv"
    english.write_bytes((EXAMPLES / "enterprise.csv").read_bytes())
    header, *body = english.read_text("utf-8").splitlines(keepends=True)
    chinese = (header.replace("uscc,", "统一社会信用代码,").replace(",name,", ",企业名称,")
               .replace(",established_on,", ",成立日期,"))  # fmt: skip
    data = (chinese + "".join(body)).encode("gb18030")
    done = _command(["enterprise", "-", "--json"], data, bootstrap_servers, prefix, tmp_path)
    assert done.returncode == EXIT_OK, done.stderr.decode()
    assert "reading stdin as GB18030 (not valid UTF-8)" in done.stderr.decode()
    summary = json.loads(done.stdout)
    assert summary["acknowledged"] == summary["read"] == len(body)
    records = consume_all(bootstrap_servers, f"{prefix}.enterprise")
    sent = sorted((codec.decode(r.value)[0] for r in records), key=lambda e: str(e["event_id"]))
    want = sorted(expected_events("enterprise", english), key=lambda e: e["event_id"])
    assert [(str(e["event_id"]), e["name"]) for e in sent] == [
        (e["event_id"], e["name"]) for e in want
    ], "the Chinese-header GB18030 file is not the same events as the UTF-8 one"


def test_the_command_exits_2_when_kafka_is_down_and_64_on_a_usage_error(tmp_path: Path) -> None:
    data = (EXAMPLES / "tax.csv").read_bytes()
    down = _command(["tax", "-", "--json"], data, "127.0.0.1:9", "down", tmp_path)
    assert down.returncode == EXIT_PUBLISH_FAILED, down.stderr.decode()
    summary = json.loads(down.stdout)
    assert summary["acknowledged"] == 0
    assert "cannot reach Kafka at 127.0.0.1:9" in summary["error"]
    usage = _command(["tax", "-", "--encoding", "nope"], data, "127.0.0.1:9", "down", tmp_path)
    assert usage.returncode == EXIT_USAGE
