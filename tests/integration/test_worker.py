"""``zjcredit worker`` on the real broker: the committed outputs are the pure fold's.

Each test produces to its own topic prefix, runs the worker as a subprocess (as an
operator would) with a fixed clock, and reads the outputs back ``read_committed``:

- the oracle test: a generated province gives exactly the profiles and notices of
  ``streams.core.fold`` (tests/outputs.py ``oracle``), each notice once;
- the dead-letter test: every kind of bad message lands in ``deadletters`` with its reason,
  coordinates and original bytes, and the good messages around it are folded as usual;
- the sweep test: a listing whose planned end date passes while the worker is down is
  lifted by the expiry sweep after a restart with a later clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from base.settings import Settings
from producers.produce import EXIT_OK, produce_file
from producers.rows import RowParser
from schemas.codec import frame
from schemas.errors import CorruptBody
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog
from schemas.uscc import ALPHABET, make_code, problem
from streams.core import Profile, SourceEvent, apply, render, sweep
from tests.outputs import oracle
from tests.province import AS_OF, province
from tests.workers import (
    Watch,
    Workers,
    canonical,
    codec,
    create_project_topics,
    notices_diff,
    profiles_diff,
    send_events,
)

ORACLE_FIRMS = 1500
DEADLINE = 180.0  # s; a run takes 20-30 s on a 2-core machine


@pytest.fixture
def prefix(bootstrap_servers: str, settings: Settings, unique_name: Callable[[str], str]) -> str:
    name = unique_name("worker")
    create_project_topics(bootstrap_servers, settings, name)
    return name


@pytest.fixture
def workers(
    bootstrap_servers: str, settings: Settings, prefix: str, tmp_path: Path
) -> Iterator[Workers]:
    runner = Workers(bootstrap_servers, prefix, settings.partitions, tmp_path / "run")
    yield runner
    runner.close()


@pytest.fixture
def watch(bootstrap_servers: str, prefix: str) -> Iterator[Watch]:
    with Watch(bootstrap_servers, prefix) as w:
        yield w


def matches(profiles: dict[str, Any], notices: list[dict[str, Any]]) -> Callable[[Watch], bool]:
    want = Counter(map(canonical, notices))
    return lambda w: w.profiles == profiles and Counter(map(canonical, w.notices)) == want


def test_a_province_folds_to_the_oracle_profiles_and_notices_each_once(
    bootstrap_servers: str, prefix: str, workers: Workers, watch: Watch, tmp_path: Path
) -> None:
    data = tmp_path / "province"
    events = province(data, ORACLE_FIRMS, seed=11)
    for source in SOURCES:
        summary = produce_file(source, data / f"{source}.csv", bootstrap_servers=bootstrap_servers,
                               topic_prefix=prefix, show_progress=False, workers=0)  # fmt: skip
        assert summary.exit_code == EXIT_OK, summary.lines()
    proc = workers.start("--as-of", AS_OF.isoformat(), "--tick-interval", "2")
    profiles, notices = oracle(itertools.chain(*events.values()), AS_OF)
    assert len(profiles) == ORACLE_FIRMS
    assert notices, "the province should have listings in force (IMPOSED notices)"

    done = watch.wait(matches(profiles, notices), DEADLINE, workers, proc)

    logs = workers.logs()
    assert done, f"not the oracle after {DEADLINE} s: {watch.describe(profiles, notices)}{logs}"
    assert watch.profiles == profiles, profiles_diff(watch.profiles, profiles) + "\n" + logs
    assert Counter(map(canonical, watch.notices)) == Counter(map(canonical, notices)), (
        notices_diff(watch.notices, notices) + logs
    )
    ids = Counter(n["notice_id"] for n in watch.notices)
    assert [i for i, n in ids.items() if n > 1] == [], logs
    assert watch.dead_letters == [], logs
    assert workers.stop(proc) == 0, workers.logs()


def _bad_check_char(code: str) -> str:
    wrong = code[:-1] + next(c for c in ALPHABET if c != code[-1])
    assert problem(wrong) is not None
    return wrong


def test_bad_messages_go_to_the_dead_letters_and_the_good_ones_around_them_are_folded(
    bootstrap_servers: str, prefix: str, workers: Workers, watch: Watch, tmp_path: Path
) -> None:
    events = province(tmp_path / "province", 200, seed=5)
    assert events["blacklist"], "the province should have a listing"
    tax, trademark = events["tax"][0].event, events["trademark"][0].event
    blacklist = events["blacklist"][0].event
    other = next(e.event["uscc"] for e in events["enterprise"] if e.event["uscc"] != tax["uscc"])
    truncated = codec.encode("trademark", trademark)[:-7]
    with pytest.raises(CorruptBody):
        codec.decode(truncated)
    unknown_id = max(s.id for s in ManifestRegistry.load().entries()) + 1000
    # (reason, source topic role, key, value): what a department's own system might send.
    bad: list[tuple[str, str, bytes | None, bytes]] = [
        ("bad_magic_byte", "tax", None, b"\x7bnot avro, not even a frame}"),
        ("unknown_schema_id", "enterprise", tax["uscc"].encode(),
         frame(unknown_id, codec.encode("tax", tax)[5:])),
        ("corrupt_body", "trademark", trademark["uscc"].encode(), truncated),
        ("invalid_credit_code", "tax", _bad_check_char(tax["uscc"]).encode(),
         codec.encode("tax", {**tax, "uscc": _bad_check_char(tax["uscc"])})),
        ("unknown_sector", "blacklist", blacklist["uscc"].encode(),
         codec.encode("blacklist", {**blacklist, "sector": "no_such_sector"})),
        ("wrong_subject", "blacklist", tax["uscc"].encode(), codec.encode("tax", tax)),
        ("key_mismatch", "tax", other.encode(), codec.encode("tax", tax)),
    ]  # fmt: skip
    # Interleave: a slice of every source's good events (in order), a bad message, and so on.
    shares = len(bad) + 1
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                             enable_idempotence=True)  # fmt: skip
    sent: list[tuple[str, str, bytes | None, bytes, Any]] = []
    try:
        for i in range(shares):
            for source in SOURCES:
                items = events[source]
                lo, hi = len(items) * i // shares, len(items) * (i + 1) // shares
                for e in items[lo:hi]:
                    producer.send(f"{prefix}.{source}", key=e.event["uscc"].encode(),
                                  value=codec.encode(source, e.event))  # fmt: skip
            if i < len(bad):
                reason, role, key, value = bad[i]
                future = producer.send(f"{prefix}.{role}", key=key, value=value)
                sent.append((reason, role, key, value, future))
        producer.flush(timeout=30)
        coordinates = {reason: f.get(timeout=30) for reason, _, _, _, f in sent}
    finally:
        producer.close()
    proc = workers.start("--as-of", AS_OF.isoformat(), "--tick-interval", "2")
    profiles, notices = oracle(itertools.chain(*events.values()), AS_OF)

    done = watch.wait(
        lambda w: len(w.dead_letters) >= len(bad) and matches(profiles, notices)(w),
        DEADLINE, workers, proc,
    )  # fmt: skip

    logs = workers.logs()
    assert done, f"not done after {DEADLINE} s: {watch.describe(profiles, notices)}{logs}"
    letters = {(d["source_topic"], d["partition"], d["offset"]): d for d in watch.dead_letters}
    assert len(watch.dead_letters) == len(letters) == len(bad), watch.dead_letters
    for reason, role, key, value, _ in sent:
        meta = coordinates[reason]
        letter = letters.get((f"{prefix}.{role}", meta.partition, meta.offset))
        assert letter is not None, (
            f"{reason}: no dead letter at {role}[{meta.partition}]@{meta.offset}"
        )
        assert letter["reason"] == reason, letter
        assert letter["stage"] == "worker"
        assert letter["key"] == key
        assert letter["value"] == value
        assert letter["message"]
    assert watch.profiles == profiles, profiles_diff(watch.profiles, profiles) + "\n" + logs
    assert Counter(map(canonical, watch.notices)) == Counter(map(canonical, notices)), (
        notices_diff(watch.notices, notices) + logs
    )


# The sweep: one firm, listed until a date that falls between two runs of the worker.
_FIRM = make_code("91", "330106", "WEEP0001")
_BEFORE, _PLANNED_END, _AFTER = dt.date(2018, 6, 30), dt.date(2018, 7, 3), dt.date(2018, 7, 5)
_ROWS = [
    ("enterprise", {
        "uscc": _FIRM, "department": "SAMR", "occurred_at": "2016-03-01T10:00:00+08:00",
        "reported_at": "2016-03-01T11:00:00+08:00", "event_type": "REGISTERED",
        "name": "杭州扫除测试有限公司", "city_code": "330100", "district_code": "330106",
        "industry_section": "F", "industry_code": "F5191", "size_class": "MICRO",
        "established_on": "2016-03-01", "registered_capital": "100000.00",
    }),
    ("blacklist", {
        "uscc": _FIRM, "department": "SAMR", "occurred_at": "2017-07-03T09:30:00+08:00",
        "reported_at": "2017-07-03T10:00:00+08:00", "event_type": "LISTED",
        "sector": "market_serious_illegal", "decision_no": "杭市监严〔2017〕9号",
        "listing_department": "SAMR", "listed_on": "2017-07-03",
        "planned_end_on": _PLANNED_END.isoformat(), "reason": "提交虚假材料取得公司登记",
    }),
]  # fmt: skip


def _roundtrip(subject: str, record: dict[str, Any]) -> dict[str, Any]:
    return codec.decode(codec.encode(subject, record))[0]


def test_a_listing_whose_planned_end_passes_is_lifted_by_the_sweep_after_a_restart(
    bootstrap_servers: str, prefix: str, workers: Workers, watch: Watch
) -> None:
    registry, catalog = ManifestRegistry.load(), load_catalog()
    now = dt.datetime(2018, 6, 30, tzinfo=dt.UTC)
    events = [
        SourceEvent(s, codec.decode(codec.encode(
            s, RowParser(s, registry.latest(s), catalog).parse(row, now)))[0])
        for s, row in _ROWS
    ]  # fmt: skip
    send_events(bootstrap_servers, prefix, {e.source: [e] for e in events})
    # Expected: fold at the first clock, then sweep at the second, with the pure core.
    state, imposed = Profile(_FIRM), []
    for event in events:
        state, out = apply(state, event, _BEFORE)
        imposed += out
    swept, lifted = sweep(state, _AFTER)
    before = _roundtrip("profiles", render(state, _BEFORE))
    after = _roundtrip("profiles", render(swept, _AFTER))
    imposed = [_roundtrip("penalties", n) for n in imposed]
    lifted = [_roundtrip("penalties", n) for n in lifted]
    assert [n["kind"] for n in imposed] == ["IMPOSED"]
    assert [n["kind"] for n in lifted] == ["LIFTED"]

    first = workers.start("--as-of", _BEFORE.isoformat(), "--tick-interval", "1")
    done = watch.wait(lambda w: w.profiles == {_FIRM: before} and w.notices == imposed,
                      DEADLINE, workers, first)  # fmt: skip
    assert done, f"{watch.describe({_FIRM: before}, imposed)}{workers.logs()}"
    assert watch.profiles[_FIRM]["blacklist"], "listed and in force before its planned end"
    assert workers.stop(first) == 0, workers.logs()
    published = len(watch.profiles_topic.records)

    second = workers.start("--as-of", _AFTER.isoformat(), "--tick-interval", "1")
    done = watch.wait(lambda w: len(w.notices) >= 2 and _FIRM in w.profiles
                      and w.profiles[_FIRM]["as_of"] == _AFTER, DEADLINE, workers, second)  # fmt: skip
    logs = workers.logs()
    assert done, (
        f"no sweep after {DEADLINE} s: {watch.describe({_FIRM: after}, imposed + lifted)}{logs}"
    )
    assert watch.notices == imposed + lifted, notices_diff(watch.notices, imposed + lifted) + logs
    notice = watch.notices[-1]
    assert notice["kind"] == "LIFTED"
    assert "PLANNED_END_REACHED" in notice["reason"]
    assert notice["source_event_id"] is None
    profile = watch.profiles[_FIRM]
    assert profile == after, profiles_diff(watch.profiles, {_FIRM: after}) + "\n" + logs
    assert profile["blacklist"] == []
    assert profile["penalties"] == []
    assert [(h["ground"], h["ended_on"]) for h in profile["blacklist_history"]] == [
        ("PLANNED_END_REACHED", _PLANNED_END)
    ]
    assert len(watch.profiles_topic.records) == published + 1, "the sweep publishes once"
    assert workers.stop(second) == 0, workers.logs()
