"""``zjcredit sink`` on the real broker and real PostgreSQL: the read model is the pure fold's.

One province is produced once for the module; ``zjcredit worker`` folds it while the main
``zjcredit sink`` writes its outputs into a fresh database, all as subprocesses. Then:

- end to end: the ``credit`` tables equal the oracle (tests/readmodel.py ``differences``):
  every enterprise row and profile field for field, the child rows, every notice once
  (an IMPOSED notice 'lifted' once its listing's LIFTED notice is stored), one event
  row per accepted event, exact counts;
- rebuild: ``zjcredit sink rebuild`` refuses (exit 2) while the sink runs; once the sink
  is stopped it drops and rebuilds the read model from the topics, row for row the same;
- SIGKILL: sinks killed three times mid-stream into another database, then one run to
  the end: still the oracle, no event, notice or history row twice or missing;
- outage: a sink writing into its own PostgreSQL that is stopped for 10 s mid-run retries
  (metrics and log say so), recovers, and ends with the oracle's tables;
- a refused row: a profile that breaks a table constraint goes to the dead letters
  (stage ``sink``, reason ``refused_<sqlstate>``), and the rest of its batch is written.

The sinks reuse the module's topics (as rebuilding sinks would), one at a time in the
sink's consumer group, each into its own database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from kafka import KafkaProducer

from base.endpoints import Endpoints, free_port
from base.settings import Settings
from readmodel.rows import to_json
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
    snapshot,
    wait_until_equal,
)
from tests.workers import (
    CommittedTopic,
    Workers,
    codec,
    create_project_topics,
    send_events,
    wait_for,
)
from zjcredit.stack import EmbeddedPostgres
from zjcredit.stack import postgres as postgres_module

FIRMS = 1500
SEED = 23
DEADLINE = 240.0  # s to reach the oracle; the worker alone takes 20-60 s on 2 busy cores
# Kill the n-th sink, inside a transaction, once it has written this many rows (of
# about 15,000: events, notices and enterprise upserts).
KILL_AFTER = (1, 1500, 2000)
OUTAGE = 10.0  # s PostgreSQL is down
ROWS = "zjcredit_sink_rows_written_total"


class Pipeline:
    """The module's province, produced once, folded by a worker and written by a sink.

    Attributes:
        prefix: the topic prefix of this module.
        events: the produced events per source; ``expected`` what the read model must hold.
        database_url: the main sink's database; ``sink`` its process (``sink_port`` metrics).
    """

    def __init__(self, bootstrap_servers: str, settings: Settings, server_url: str,
                 tmp: Path) -> None:  # fmt: skip
        self.bootstrap_servers = bootstrap_servers
        self.partitions = settings.partitions
        self.server_url = server_url
        self.tmp = tmp
        self.prefix = f"sink-{uuid.uuid4().hex[:8]}"
        self._databases: list[str] = []
        self._runners: list[Workers] = []
        create_project_topics(bootstrap_servers, settings, self.prefix)
        self.events = province(tmp / "province", FIRMS, seed=SEED)
        self.expected = Expected.of(self.events, AS_OF)
        self.database_url = self.new_database()
        send_events(bootstrap_servers, self.prefix, self.events)
        self.workers = Workers(bootstrap_servers, self.prefix, self.partitions, tmp / "worker")
        self._runners.append(self.workers)
        self.worker = self.workers.start("--as-of", AS_OF.isoformat(), "--tick-interval", "2")
        self.sinks = self.sinks_for(self.database_url)
        self.sink_port = free_port()
        self.sink = self.sinks.start("--metrics-port", str(self.sink_port))
        self.settled_in: float | None = None
        self._left: list[str] | None = None

    def new_database(self) -> str:
        name = f"sink_{uuid.uuid4().hex[:12]}"
        self._databases.append(name)
        return create_database(self.server_url, name)

    def sinks_for(self, database_url: str) -> Sinks:
        sinks = Sinks(self.bootstrap_servers, self.prefix, self.partitions,
                      self.tmp / f"sink-{len(self._runners)}", database_url)  # fmt: skip
        self._runners.append(sinks)
        return sinks

    def logs(self) -> str:
        return f"{self.workers.logs(30)}\n{self.sinks.logs(30)}"

    def settle(self) -> None:
        """Wait (once) until the main database equals the oracle; then stop the worker."""
        if self._left is None:

            def running() -> None:
                for proc in (self.worker, self.sink):
                    if proc.poll() is not None:
                        raise AssertionError(f"{proc.args!r} exited early\n{self.logs()}")

            started = time.monotonic()
            self._left = ["(interrupted)"]
            self._left = wait_until_equal(self.database_url, self.expected, DEADLINE, running)
            self.settled_in = time.monotonic() - started
            if not self._left:
                assert self.workers.stop(self.worker) == 0, self.workers.logs()
        assert self._left == [], (
            f"the read model is not the oracle after {DEADLINE} s:\n"
            + "\n".join(self._left)
            + f"\n{self.logs()}"
        )

    def stop_main_sink(self) -> None:
        if self.sink.poll() is None:
            assert self.sinks.stop(self.sink) == 0, self.sinks.logs()

    def ensure_main_sink(self) -> None:
        """The main sink running and connected (holding its lock on the database)."""
        if self.sink.poll() is not None:
            self.sink = self.sinks.start("--metrics-port", str(self.sink_port))
        assert wait_for(lambda: metric(self.sink_port, "zjcredit_sink_database_up") == 1, 60), (
            self.sinks.logs()
        )

    def close(self) -> None:
        for runner in self._runners:
            runner.close()
        for name in self._databases:
            with contextlib.suppress(Exception):
                drop_database(self.server_url, name)


@pytest.fixture(scope="module")
def pipeline(
    bootstrap_servers: str,
    settings: Settings,
    stack: Endpoints,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    p = Pipeline(bootstrap_servers, settings, stack.database_url, tmp_path_factory.mktemp("sink"))
    yield p
    p.close()


def test_the_read_model_equals_the_pure_fold_of_a_province(pipeline: Pipeline) -> None:
    pipeline.settle()

    expected, url = pipeline.expected, pipeline.database_url
    got = counts(url)
    assert got["enterprise"] == FIRMS
    assert got["event"] == sum(len(items) for items in pipeline.events.values())
    assert got == expected.counts()
    # Profiles field for field: the stored jsonb is the oracle's canonical JSON.
    stored = {row["uscc"]: json.loads(row["profile"])
              for row in fetch(url, "select uscc, profile from credit.enterprise")}  # fmt: skip
    want = {uscc: json.loads(to_json(p)) for uscc, p in expected.profiles.items()}
    assert stored.keys() == want.keys()
    assert [u for u in want if stored[u] != want[u]] == []
    # Notices: each oracle notice once, of its kind; IMPOSED ones lifted when their
    # listing's LIFTED notice is there.
    notices = {row["notice_id"]: (row["kind"], row["status"])
               for row in fetch(url, "select notice_id, kind, status from credit.notice")}  # fmt: skip
    assert {i: kind for i, (kind, _) in notices.items()} == {
        n["notice_id"]: n["kind"] for n in expected.notices
    }
    ended = {(n["uscc"], n["sector"], n["decision_no"], n["listed_on"])
             for n in expected.notices if n["kind"] == "LIFTED"}  # fmt: skip
    lifted = [n["notice_id"] for n in expected.notices if n["kind"] == "IMPOSED"
              and (n["uscc"], n["sector"], n["decision_no"], n["listed_on"]) in ended]  # fmt: skip
    assert lifted, "the province should have a listing imposed and then lifted"
    assert {i for i, (_, status) in notices.items() if status == "lifted"} == set(lifted)
    assert {s for kind, s in notices.values() if kind != "IMPOSED"} <= {"final"}
    # Everything else (columns, child rows vs jsonb, notice measures, event payloads).
    assert differences(url, expected) == []
    print(f"\nend to end: the oracle in {pipeline.settled_in:.0f} s, rows {got}")


def test_rebuild_refuses_while_a_sink_runs_then_gives_the_same_rows(pipeline: Pipeline) -> None:
    pipeline.settle()
    pipeline.ensure_main_sink()
    before = snapshot(pipeline.database_url)

    refused = pipeline.sinks.rebuild()

    assert refused.returncode == 2, refused.stderr
    assert "a sink is running against this database: stop it first" in refused.stderr
    assert snapshot(pipeline.database_url) == before, "a refused rebuild must change nothing"

    pipeline.stop_main_sink()
    started = time.monotonic()
    rebuilt = pipeline.sinks.rebuild()
    took = time.monotonic() - started

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt" in rebuilt.stderr
    after = snapshot(pipeline.database_url)
    for table, rows in before.items():
        assert len(after[table]) == len(rows), f"{table}: {len(after[table])} rows, {len(rows)}"
        assert after[table] == rows, f"{table} differs after the rebuild"
    assert differences(pipeline.database_url, pipeline.expected) == []
    print(f"\nrebuild: {took:.0f} s")


_WRITING = """
select exists (select 1 from pg_stat_activity where datname = current_database()
               and pid <> pg_backend_pid() and backend_type = 'client backend'
               and xact_start is not null)
"""


def _kill_mid_transaction(database_url: str, kill: Callable[[], None], timeout: float) -> bool:
    """Call ``kill`` the moment another session of the database (the sink's) is inside a
    transaction; False if none was within ``timeout`` seconds."""

    async def watch() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if await conn.fetchval(_WRITING):
                    kill()
                    return True
                await asyncio.sleep(0.001)
            return False
        finally:
            await conn.close()

    return asyncio.run(watch())


def _rollbacks(database_url: str) -> int:
    """Transactions rolled back in the database (a SIGKILLed client's open one counts)."""
    rows = fetch(database_url, "select xact_rollback from pg_stat_database "
                 "where datname = current_database()")  # fmt: skip
    return int(rows[0][0])


def test_sigkilled_sinks_resume_from_the_stored_offsets_nothing_doubled_or_lost(
    pipeline: Pipeline,
) -> None:
    pipeline.settle()
    pipeline.stop_main_sink()  # one sink at a time in the sink's consumer group
    url = pipeline.new_database()
    sinks = pipeline.sinks_for(url)
    kills = []
    for threshold in KILL_AFTER:
        port = free_port()
        # Small polls: a poll is one transaction, and each sink must be killed mid-stream.
        proc = sinks.start("--metrics-port", str(port), "--max-records", "100")
        deadline = time.monotonic() + 120
        while (written := metric(port, ROWS) or 0) < threshold:
            sinks.alive(proc)()
            assert time.monotonic() < deadline, f"no {threshold} rows in 120 s\n{sinks.logs()}"
            time.sleep(0.02)
        # SIGKILL while it writes its next batch: the transaction is cut short.
        assert _kill_mid_transaction(url, functools.partial(sinks.kill, proc), 60), (
            f"the sink opened no transaction after {written} rows\n{sinks.logs()}"
        )
        at_kill = counts(url)
        kills.append((written, at_kill["event"], at_kill["enterprise"]))
        # Killed mid-stream: what is stored so far is not yet the whole read model.
        assert differences(url, pipeline.expected) != [], f"finished before kill {len(kills)}"
    # The backends of the killed sessions abort their open transactions as they exit.
    assert wait_for(lambda: _rollbacks(url) > 0, 30), f"no transaction was cut short: {kills}"
    cut = _rollbacks(url)

    last_port = free_port()
    last = sinks.start("--metrics-port", str(last_port))
    left = wait_until_equal(url, pipeline.expected, DEADLINE, sinks.alive(last))

    report = (
        f"kills (rows written, events, enterprises stored): {kills}, "
        f"transactions cut short: {cut}\n{sinks.logs()}"
    )
    assert left == [], "\n".join(left) + "\n" + report
    assert counts(url)["event"] == len(pipeline.expected.events), report
    assert sinks.stop(last) == 0, sinks.logs()
    print(f"\nSIGKILL: {report.splitlines()[0]}")


def _port_free_or_lingering(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """``free_port``, but a port whose closed connections linger (TIME_WAIT) is free.

    Workaround: EmbeddedPostgres.start() re-checks its port with a plain bind(), which
    fails while the stopped server's old connections are in TIME_WAIT, and silently moves
    the restarted server to another port. PostgreSQL binds with SO_REUSEADDR itself.
    """
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free TCP port on {host}")


def _redeliver_a_profile(pipeline: Pipeline) -> None:
    """Send one firm's final profile again (a redelivery: it changes nothing)."""
    uscc, profile = next(iter(pipeline.expected.profiles.items()))
    producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap_servers, acks="all")
    try:
        producer.send(f"{pipeline.prefix}.profiles", key=uscc.encode(),
                      value=codec.encode("profiles", profile)).get(timeout=30)  # fmt: skip
    finally:
        producer.close()


def test_the_sink_rides_out_a_postgresql_outage(
    pipeline: Pipeline, open_tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.settle()
    pipeline.stop_main_sink()
    monkeypatch.setattr(postgres_module, "free_port", _port_free_or_lingering)
    pg = EmbeddedPostgres(work_dir=open_tmp_path / "pg")  # ours alone, to stop at will
    url = pg.start()
    try:
        sinks = pipeline.sinks_for(url)
        port = free_port()
        proc = sinks.start("--metrics-port", str(port))
        deadline = time.monotonic() + 120
        while not metric(port, ROWS):
            sinks.alive(proc)()
            assert time.monotonic() < deadline, f"nothing written in 120 s\n{sinks.logs()}"
            time.sleep(0.02)

        pg.stop()
        # So the sink certainly has a batch to write while PostgreSQL is down.
        _redeliver_a_profile(pipeline)
        up_seen = []
        until = time.monotonic() + OUTAGE
        while time.monotonic() < until:
            sinks.alive(proc)()
            up_seen.append(metric(port, "zjcredit_sink_database_up"))
            time.sleep(0.1)
        retries = metric(port, "zjcredit_sink_retries_total") or 0
        assert retries > 0, f"no retries while PostgreSQL was down\n{sinks.logs()}"
        assert 0 in up_seen, f"database_up never 0: {set(up_seen)}\n{sinks.logs()}"

        assert pg.start() == url, "PostgreSQL came back on another port"
        assert wait_for(lambda: metric(port, "zjcredit_sink_database_up") == 1, 90), sinks.logs()
        left = wait_until_equal(url, pipeline.expected, DEADLINE, sinks.alive(proc))

        assert left == [], "\n".join(left) + "\n" + sinks.logs()
        log = sinks.logs(2000)
        assert "PostgreSQL unavailable" in log, log
        assert "retrying in" in log, log
        assert sinks.stop(proc) == 0, sinks.logs()
        print(f"\noutage: {retries:.0f} retries")
    finally:
        pg.stop()


@pytest.fixture
def small_prefix(
    bootstrap_servers: str, settings: Settings, unique_name: Callable[[str], str]
) -> str:
    name = unique_name("sinkref")
    create_project_topics(bootstrap_servers, settings, name)
    return name


def test_a_row_postgresql_refuses_is_dead_lettered_and_the_rest_of_its_batch_written(
    bootstrap_servers: str,
    settings: Settings,
    small_prefix: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    profiles = Expected.of(province(tmp_path / "province", 40, seed=3), AS_OF).profiles
    good = list(profiles.values())[:4]
    bad = {**list(profiles.values())[4], "score": 5000}  # check (score between 0 and 1000)
    batch: list[dict[str, Any]] = [good[0], good[1], bad, good[2], good[3]]
    topic = f"{small_prefix}.profiles"
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    try:  # one partition, sent before the sink starts: one fetched batch
        offsets = [
            producer.send(topic, key=p["uscc"].encode(), value=codec.encode("profiles", p),
                          partition=0).get(timeout=30).offset
            for p in batch
        ]  # fmt: skip
    finally:
        producer.close()
    sinks = Sinks(bootstrap_servers, small_prefix, settings.partitions, tmp_path / "run",
                  database_url)  # fmt: skip
    letters = CommittedTopic(bootstrap_servers, f"{small_prefix}.deadletters")
    try:
        port = free_port()
        proc = sinks.start("--metrics-port", str(port))

        def done() -> bool:
            sinks.alive(proc)()
            letters.read()
            return bool(letters.records) and counts(database_url)["enterprise"] == len(good)

        assert wait_for(done, 120, interval=0.5), (
            f"{len(letters.records)} dead letters, {counts(database_url)}\n{sinks.logs()}"
        )

        stored = {row["uscc"]: json.loads(row["profile"])
                  for row in fetch(database_url, "select uscc, profile from credit.enterprise")}  # fmt: skip
        assert stored == {p["uscc"]: json.loads(to_json(p)) for p in good}
        assert len(letters.records) == 1
        letter = codec.decode(letters.records[0].value)[0]
        assert letter["stage"] == "sink"
        assert letter["reason"].startswith("refused_"), letter["reason"]
        assert "enterprise_score_check" in letter["message"], letter["message"]
        assert (letter["source_topic"], letter["partition"], letter["offset"]) == (
            topic, 0, offsets[2],
        )  # fmt: skip
        assert letter["key"] == bad["uscc"].encode()
        assert letter["value"] == codec.encode("profiles", bad)
        stored_offset = fetch(database_url, 'select next_offset from credit.sink_offset '
                              'where topic = $1 and "partition" = 0', topic)  # fmt: skip
        assert [row[0] for row in stored_offset] == [offsets[-1] + 1]
        assert metric(port, "zjcredit_sink_dead_letters_total") == 1
        assert sinks.stop(proc) == 0, sinks.logs()
        assert "refused" in sinks.logs(), sinks.logs()
    finally:
        letters.close()
        sinks.close()
