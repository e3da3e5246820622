"""``zjcredit sink rebuild`` on topics holding several versions of enterprises, on the real
broker and PostgreSQL (sink/rebuild.py: COPY straight into the tables, indexes after).

One small province, produced once for the module: its source events, the oracle's
notices (one of them twice), and on the profiles topic, in one partition so the distance
between two records is known: an older version of some enterprises before their newest,
the newest of others before an older one that comes in a later batch, the newest of some
and an older one next to each other (the same batch), a newest version written with the
v1 schema, garbage and a tombstone. Then:

- a rebuild (the command's code, in this process, in batches of :data:`BATCH` records)
  gives exactly the oracle's rows, dead-letters the garbage and the tombstone as the live
  sink does, builds every secondary index again, and stores the offsets from which
  ``zjcredit sink`` continues without rewriting a row (and then writes a newer version);
- ``zjcredit sink rebuild`` SIGKILLed mid-way leaves rows that match its stored offsets:
  ``zjcredit sink`` builds the indexes it had deferred and goes on to the oracle; a
  second rebuild starts over and gives the oracle again.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from base.endpoints import Endpoints, free_port
from base.settings import Settings
from readmodel.migrate import migrate
from sink.metrics import SinkMetrics
from sink.rebuild import Rebuild
from sink.service import SinkOptions
from streams.core import SourceEvent
from tests.outputs import oracle
from tests.province import AS_OF, province
from tests.readmodel import (
    Expected,
    Sinks,
    counts,
    create_database,
    differences,
    drop_database,
    fetch,
    metric,
    wait_until_equal,
)
from tests.workers import codec, create_project_topics, send_events, wait_for

FIRMS = 400
SEED = 31
BATCH = 40  # records per transaction of the in-process rebuild: the versions span batches
PAIRS = 12  # enterprises whose newest version and an older one come next to each other
V1 = 5  # the manifest's id of credit_profile.v1
GARBAGE = b"\xde\xad\xbe\xef not avro"
_INDEXES = """
select indexname, indexdef from pg_indexes where schemaname = 'credit' order by indexname
"""


class Topics:
    """The module's topics and what the read model must hold after reading them."""

    def __init__(self, bootstrap_servers: str, settings: Settings, tmp: Path) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.partitions = settings.partitions
        self.prefix = f"rebuild-{uuid.uuid4().hex[:8]}"
        create_project_topics(bootstrap_servers, settings, self.prefix)
        events = province(tmp / "province", FIRMS, seed=SEED)
        self.expected = Expected.of(events, AS_OF)
        send_events(bootstrap_servers, self.prefix, events)
        # Older versions: the oracle of the earlier half of each enterprise's events.
        by_firm: dict[str, list[SourceEvent]] = {}
        for e in itertools.chain(*events.values()):
            by_firm.setdefault(e.event["uscc"], []).append(e)
        half = [e for items in by_firm.values()
                for e in sorted(items, key=lambda e: e.event["occurred_at"])[: (len(items) + 1) // 2]]  # fmt: skip
        final = self.expected.profiles
        older = {u: p for u, p in oracle(half, AS_OF)[0].items()
                 if u in final and p["version"] < final[u]["version"]}  # fmt: skip
        assert len(older) > FIRMS // 2, f"only {len(older)} enterprises have an older version"
        self.profiles = self._profiles(final, older)
        self.offsets = self._send()
        self.letters = sorted(
            (self.offsets[i], reason)
            for i, (_, value) in enumerate(self.profiles)
            if (reason := {GARBAGE: "bad_magic_byte", None: "tombstone"}.get(value))
        )

    def _profiles(self, final: dict[str, dict[str, Any]],
                  older: dict[str, dict[str, Any]]) -> list[tuple[str, bytes | None]]:  # fmt: skip
        """The profiles topic's records (module docstring), checked to span batches."""
        firms, olds = sorted(final), sorted(older)
        pairs = olds[:PAIRS]  # only their newest and, next to it, an older one
        half = (len(olds) + PAIRS) // 2
        before, after = olds[PAIRS:half], olds[half:]
        self.v1 = {u for u in firms if not final[u]["patents"]}
        self.v1 = set(sorted(self.v1)[:3])  # their newest as the v1 schema writes it

        def newest(u: str) -> bytes:
            if u in self.v1:
                return codec.encode_framed(codec.registry.by_id(V1), final[u])
            return codec.encode("profiles", final[u])

        def old(u: str) -> bytes:
            return codec.encode("profiles", older[u])

        records: list[tuple[str, bytes | None]] = [(u, old(u)) for u in before]
        # The newest of `after` first: between it and its older version sent below, the
        # newest of every other enterprise, more than a batch.
        order = after + [u for u in firms if u not in set(after) | set(pairs)]
        assert len(order) - len(after) > BATCH
        records += [(u, newest(u)) for u in order]
        records += [(u, old(u)) for u in after]
        records += [(firms[0], GARBAGE), (firms[1], None)]
        # An enterprise first seen in a batch that holds its newest and then an older
        # version (almost surely the same batch for some of the pairs).
        for u in pairs:
            records += [(u, newest(u)), (u, old(u))]
        return records

    def _send(self) -> list[int]:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all")
        try:
            sent = [producer.send(f"{self.prefix}.profiles", key=k.encode(), value=v, partition=0)
                    for k, v in self.profiles]  # fmt: skip
            offsets = [future.get(timeout=60).offset for future in sent]
            notices = [codec.encode("penalties", n) for n in self.expected.notices]
            keys = [n["uscc"].encode() for n in self.expected.notices]
            for k, n in [*zip(keys, notices, strict=True), (keys[0], notices[0])]:  # twice: one
                producer.send(f"{self.prefix}.penalties", key=k, value=n).get(timeout=60)
        finally:
            producer.close()
        return offsets

    def send_profile(self, uscc: str, version: int) -> None:
        """A newer version of ``uscc``'s profile; the read model must hold it from now on."""
        frame = codec.encode("profiles", {**self.expected.profiles[uscc], "version": version})
        producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all")
        try:
            producer.send(f"{self.prefix}.profiles", key=uscc.encode(), value=frame,
                          partition=0).get(timeout=60)  # fmt: skip
        finally:
            producer.close()
        self.expected.profiles[uscc] = codec.decode(frame)[0]


@pytest.fixture(scope="module")
def topics(
    bootstrap_servers: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Topics:
    return Topics(bootstrap_servers, settings, tmp_path_factory.mktemp("rebuild"))


@pytest.fixture
def database(stack: Endpoints) -> Iterator[str]:
    name = f"rebuild_{uuid.uuid4().hex[:12]}"
    url = create_database(stack.database_url, name)
    yield url
    drop_database(stack.database_url, name)


def indexes(url: str) -> list[tuple[str, str]]:
    return [(x[0], x[1]) for x in fetch(url, _INDEXES)]


def migrated_indexes(stack: Endpoints) -> list[tuple[str, str]]:
    """Every index of a read model the migrations alone made."""
    name = f"rebuild_{uuid.uuid4().hex[:12]}"
    url = create_database(stack.database_url, name)
    try:

        async def run() -> None:
            conn = await asyncpg.connect(url)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        asyncio.run(run())
        return indexes(url)
    finally:
        drop_database(stack.database_url, name)


def letters(url: str) -> list[tuple[int, str]]:
    rows = fetch(url, "select \"offset\", reason from credit.dead_letter where source_topic "
                 "like '%.profiles' order by 1")  # fmt: skip
    return [(x[0], x[1]) for x in rows]


def committed(url: str) -> dict[str, Any]:
    return {x[0]: x[1] for x in fetch(url, "select uscc, committed_at from credit.enterprise")}


def test_a_rebuild_gives_the_oracle_and_the_sink_goes_on_from_it_without_rewriting(
    topics: Topics,
    database: str,
    stack: Endpoints,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    options = SinkOptions(topics.bootstrap_servers, database, topics.prefix, max_batch=BATCH,
                          decode_workers=1)  # fmt: skip
    job = Rebuild(options, metrics=SinkMetrics(CollectorRegistry()))
    totals = asyncio.run(job.run())

    assert job.sink.caught_up
    # Every batch written whole: none refused and written again one record at a time.
    assert "writing one by one" not in caplog.text
    assert totals.batches > len(topics.profiles) // BATCH
    assert differences(database, topics.expected) == []
    assert letters(database) == topics.letters
    assert indexes(database) == migrated_indexes(stack)
    assert fetch(database, "select count(*) from credit.deferred_index")[0][0] == 0
    v1 = fetch(database, "select uscc, profile ? 'patents' from credit.enterprise "
               "where uscc = any($1::text[])", sorted(topics.v1))  # fmt: skip
    assert sorted(tuple(x) for x in v1) == [(u, True) for u in sorted(topics.v1)]
    stored = fetch(database, 'select next_offset from credit.sink_offset where "partition" = 0 '
                   "and topic like '%.profiles'")  # fmt: skip
    assert [x[0] for x in stored] == [topics.offsets[-1] + 1]
    before, rows = committed(database), counts(database)

    # `zjcredit sink` continues from the offsets the rebuild stored: nothing to rewrite.
    sinks = Sinks(topics.bootstrap_servers, topics.prefix, topics.partitions, tmp_path, database)
    try:
        port = free_port()
        proc = sinks.start("--metrics-port", str(port))
        assert wait_for(lambda: "resuming from PostgreSQL" in sinks.logs(2000), 90), sinks.logs()
        time.sleep(3)  # time to write anything it would
        sinks.alive(proc)()
        assert not metric(port, "zjcredit_sink_rows_written_total"), sinks.logs()
        assert committed(database) == before
        # A newer version lands, and only it.
        uscc = sorted(topics.expected.profiles)[5]
        version = topics.expected.profiles[uscc]["version"] + 1
        topics.send_profile(uscc, version)
        query = "select version from credit.enterprise where uscc = $1"
        assert wait_for(lambda: fetch(database, query, uscc)[0][0] == version, 60), sinks.logs()
        after = committed(database)
        assert {u for u in before if after[u] != before[u]} == {uscc}
        assert counts(database) == rows
        assert sinks.stop(proc) == 0, sinks.logs()
    finally:
        sinks.close()


def _inside_a_transaction(url: str) -> bool:
    return bool(fetch(url, """
        select exists (select 1 from pg_stat_activity where datname = current_database()
                       and pid <> pg_backend_pid() and backend_type = 'client backend'
                       and xact_start is not null)""")[0][0])  # fmt: skip


def test_a_killed_rebuild_is_finished_by_the_sink_or_started_over(
    topics: Topics, database: str, tmp_path: Path
) -> None:
    sinks = Sinks(topics.bootstrap_servers, topics.prefix, topics.partitions, tmp_path, database)
    try:
        rebuild = sinks.start("rebuild")
        assert wait_for(lambda: counts(database)["event"] > 0, 120, interval=0.01), sinks.logs()
        assert wait_for(lambda: _inside_a_transaction(database), 60, interval=0.001)
        sinks.kill(rebuild)
        partial = counts(database)
        # Killed loading (or, at worst, building its indexes): some are still to build.
        deferred = fetch(database, "select count(*) from credit.deferred_index")[0][0]
        assert deferred > 0, "the rebuild had finished before the kill"

        # `zjcredit sink` builds the deferred indexes, then goes on to the oracle.
        proc = sinks.start()
        left = wait_until_equal(database, topics.expected, 180, sinks.alive(proc))
        assert left == [], "\n".join(left) + "\n" + sinks.logs()
        assert fetch(database, "select count(*) from credit.deferred_index")[0][0] == 0
        assert "building the index enterprise_name_trgm" in sinks.logs(2000)
        assert sinks.stop(proc) == 0, sinks.logs()

        # A second rebuild starts over: the oracle again, the letters recorded once.
        again = sinks.rebuild()
        assert again.returncode == 0, again.stderr
        assert differences(database, topics.expected) == []
        assert letters(database) == topics.letters
        assert fetch(database, "select count(*) from credit.deferred_index")[0][0] == 0
        print(f"\nkilled rebuild: {partial['event']} events, {partial['enterprise']} enterprises")
    finally:
        sinks.close()
