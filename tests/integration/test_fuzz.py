"""The fuzz test on the real pipeline: hostile events never stop the worker or the sink.

Hypothesis draws schema-valid but hostile messages (tests/hostile.py: every field of
every source at or past its bound, mismatched keys and subjects, random events, raw
garbage, tombstones, a value of 900 KB) and they are sent, mixed with a generated
province, straight to the real source topics of a real broker. A real ``zjcredit
worker`` folds them and a real ``zjcredit sink`` writes the results to a real
PostgreSQL. Then:

- neither process ever exits;
- every source message is either accepted by the contract (``schemas.events``, asked
  here with the broker's append time as the moment read) or dead-lettered by the
  worker at its own coordinates, with the contract's reason; never both, never neither;
- the read model equals the oracle (the pure fold) over exactly the accepted events:
  the province's and the hostile ones the contract let through.

Each run draws afresh (Hypothesis, a random seed printed with every failure; set
``ZJCREDIT_FUZZ_SEED`` to draw the same messages again) and runs the servers once: the
draws are many small Hypothesis examples collected up front, so they are as varied as a
property test's, and a run costs one minute of real servers, not one per example.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from kafka import KafkaProducer

from base.endpoints import Endpoints
from base.settings import Settings
from schemas.errors import ContractError
from schemas.events import SOURCES, validate_event
from schemas.sectors import load_catalog
from schemas.uscc import make_code
from streams.core import SourceEvent
from tests.hostile import Good, Hostile, codec, for_the_sink, hostile_messages, oversized
from tests.province import AS_OF, province
from tests.readmodel import Expected, Sinks, create_database, drop_database, wait_until_equal
from tests.workers import CommittedTopic, Workers, create_project_topics, wait_for

FIRMS = 150
SEED = 31
HOSTILE = 160  # draws; a few the schema cannot encode are skipped
DEADLINE = 240.0  # s to reach the oracle on 2 busy cores
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
catalog = load_catalog()


def verdict(role: str, key: bytes | None, value: bytes | None, timestamp_ms: int) -> str | None:
    """The contract's reason to refuse this message on the ``role`` topic, or None."""
    if value is None:
        return "empty_value"
    try:
        record, writer = codec.decode(value)
    except ContractError as error:
        return error.reason
    except Exception:  # noqa: BLE001 - whatever garbage makes a decoder raise
        return "corrupt_body"
    if writer.subject != role:
        return "wrong_subject"
    record["event_id"] = str(record["event_id"])
    read_at = _EPOCH + dt.timedelta(milliseconds=timestamp_ms)
    try:
        validate_event(role, record, catalog, read_at=read_at)
    except ContractError as error:
        return error.reason
    return None if key == record["uscc"].encode() else "key_mismatch"


def draw_hostile(good: list[Good], count: int, draw_seed: int) -> list[Hostile]:
    """``count`` Hypothesis examples of a hostile message (those the schema could encode)."""
    drawn: list[Hostile] = []

    @seed(draw_seed)
    @settings(max_examples=count, phases=[Phase.generate], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(hostile_messages(good))
    def collect(message: Hostile | None) -> None:
        if message is not None:
            drawn.append(message)

    collect()
    return drawn


class Run:
    """One prefix, one database, one worker and one sink, cleaned up on close."""

    def __init__(self, bootstrap: str, settings: Settings, server_url: str, tmp: Any) -> None:
        self.bootstrap, self.server_url, self.tmp = bootstrap, server_url, tmp
        self.prefix = f"fuzz-{uuid.uuid4().hex[:8]}"
        create_project_topics(bootstrap, settings, self.prefix)
        self.database = f"fuzz_{uuid.uuid4().hex[:12]}"
        self.database_url = create_database(server_url, self.database)
        self.workers = Workers(bootstrap, self.prefix, settings.partitions, tmp / "worker")
        self.sinks = Sinks(bootstrap, self.prefix, settings.partitions, tmp / "sink",
                           self.database_url)  # fmt: skip

    def logs(self) -> str:
        return f"{self.workers.logs(40)}\n{self.sinks.logs(40)}"

    def close(self) -> None:
        self.workers.close()
        self.sinks.close()
        with contextlib.suppress(Exception):
            drop_database(self.server_url, self.database)


@pytest.fixture
def run(
    bootstrap_servers: str, settings: Settings, stack: Endpoints,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:  # fmt: skip
    r = Run(bootstrap_servers, settings, stack.database_url, tmp_path_factory.mktemp("fuzz"))
    yield r
    r.close()


def send(bootstrap: str, prefix: str, good: list[Hostile], hostile: list[Hostile]) -> list[Any]:
    """The province in order per source, with the hostile messages spread through it;
    the hostile messages' record metadata (topic, partition, offset), in order."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             max_request_size=1_048_576)  # fmt: skip
    try:
        shares = len(hostile) + 1
        futures = []
        for i in range(shares):
            for message in good[len(good) * i // shares : len(good) * (i + 1) // shares]:
                producer.send(f"{prefix}.{message.role}", key=message.key, value=message.value)
            if i < len(hostile):
                h = hostile[i]
                futures.append(producer.send(f"{prefix}.{h.role}", key=h.key, value=h.value))
        producer.flush(timeout=60)
        return [f.get(timeout=30) for f in futures]
    finally:
        producer.close()


def test_hostile_input_never_stops_the_pipeline_and_what_is_accepted_is_folded(
    run: Run,
) -> None:
    draw_seed = int(os.environ.get("ZJCREDIT_FUZZ_SEED") or random.randrange(2**32))  # noqa: S311
    print(f"\nfuzz: ZJCREDIT_FUZZ_SEED={draw_seed}")
    events = province(run.tmp / "province", FIRMS, seed=SEED)
    good_events = [(s, e.event) for s in SOURCES for e in events[s]]
    hostile = [*draw_hostile(good_events, HOSTILE, draw_seed), oversized(good_events, 7)]
    firm = make_code("91", "330106", "FXHH0001")  # in no province
    for_sink = for_the_sink(firm, random.Random(draw_seed))  # noqa: S311 - test data
    good = [Hostile(s, str(e["uscc"]).encode(), codec.encode(s, e), "province")
            for s, e in good_events]  # fmt: skip
    metadata = send(run.bootstrap, run.prefix, good, [*hostile, *(h for h, _ in for_sink)])
    sink_refused = {(m.topic, m.partition, m.offset): reason
                    for m, (_, reason) in zip(metadata[len(hostile):], for_sink, strict=True)}  # fmt: skip

    # What the contract says of every message, as the broker stamped it.
    sent: dict[tuple[str, int, int], str | None] = {}
    accepted: dict[str, list[SourceEvent]] = {s: [] for s in SOURCES}
    for source in SOURCES:
        topic = CommittedTopic(run.bootstrap, f"{run.prefix}.{source}")
        try:
            for r in topic.read():
                reason = verdict(source, r.key, r.value, r.timestamp)
                sent[(r.topic, r.partition, r.offset)] = reason
                if reason is None:
                    record = codec.decode(r.value)[0]
                    record["event_id"] = str(record["event_id"])
                    accepted[source].append(SourceEvent(source, record))
        finally:
            topic.close()
    assert len(sent) == len(good) + len(hostile)
    refused = {coordinates: reason for coordinates, reason in sent.items() if reason}
    reasons = Counter(refused.values())
    assert len(reasons) >= 4, f"the draws were not hostile enough: {reasons}"
    expected = Expected.of(accepted, AS_OF)

    worker = run.workers.start("--as-of", AS_OF.isoformat(), "--tick-interval", "2")
    sink = run.sinks.start()

    def alive() -> None:
        for name, proc in (("worker", worker), ("sink", sink)):
            if proc.poll() is not None:
                raise AssertionError(f"the {name} exited ({proc.returncode})\n{run.logs()}")

    left = wait_until_equal(run.database_url, expected, DEADLINE, alive)
    assert left == [], "\n".join(left[:20]) + f"\n{run.logs()}"

    letters_topic = CommittedTopic(run.bootstrap, f"{run.prefix}.deadletters")
    letters: list[dict[str, Any]] = []
    try:

        def all_letters() -> bool:
            alive()
            letters.extend(codec.decode(x.value)[0] for x in letters_topic.read())
            return len(letters) >= len(refused) + len(sink_refused)

        wait_for(all_letters, 60, interval=1.0)
    finally:
        letters_topic.close()
    alive()
    by_place = {(x["source_topic"], x["partition"], x["offset"]): x for x in letters}
    assert len(by_place) == len(letters), "a message was dead-lettered twice"
    stages = {"worker": refused, "sink": sink_refused}
    for stage, want in stages.items():
        got = {place: x["reason"] for place, x in by_place.items() if x["stage"] == stage}
        assert got == want, f"{stage}: letters {Counter(got.values())} vs refused {want}"
    assert {x["stage"] for x in letters} <= set(stages)
    assert all(x["message"] for x in letters)
    print(f"\nfuzz: {len(hostile)} hostile messages among {len(good)}; refused {dict(reasons)}; "
          f"accepted {sum(map(len, accepted.values())) - len(good)} hostile")  # fmt: skip
