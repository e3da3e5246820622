"""The whole pipeline on a real three-node Kafka cluster, for the fault tests (tests/faults).

- :class:`Feed` sends a generated province through ``zjcredit produce`` (the departments'
  command, a subprocess per file) in rounds of chunk files, in a thread, keeping every
  run's JSON summary: the producer's own account of what Kafka acknowledged;
- :class:`ClusterRun` is one test's topics (replication factor 3, min.insync.replicas 2),
  province, workers, sinks, database and watch of the committed outputs, with the checks
  every fault test ends with: the producer summaries against the source topics, the
  worker's outputs against the oracle, the read model against the fold;
- :func:`leaders` and :func:`in_sync` look at partition leadership and replicas.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from base.endpoints import free_port
from base.settings import Settings
from schemas.events import SOURCES
from schemas.topics import create_topics, project_topics
from streams.core import SourceEvent
from tests.outputs import oracle
from tests.province import AS_OF, province
from tests.readmodel import Expected, Sinks, create_database, drop_database, wait_until_equal
from tests.workers import (
    ZJCREDIT,
    CommittedTopic,
    Watch,
    Workers,
    canonical,
    codec,
    wait_for,
)
from zjcredit.stack.cluster import KafkaCluster

DEADLINE = 300.0  # s to reach the oracle: three brokers, workers and a sink on 2 cores
# Static members whose session runs out in 8 s (6 s is the broker's minimum): a worker
# that is gone loses its partitions quickly, one restarted in time keeps them.
WORKER_FLAGS = ("--as-of", AS_OF.isoformat(), "--tick-interval", "2", "--batch-size", "300",
                "--session-timeout", "8")  # fmt: skip


def leaders(bootstrap_servers: str) -> Counter[int]:
    """Partitions led per node id, over every topic (the internal ones too)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        return Counter(p["leader_id"] for t in admin.describe_topics() for p in t["partitions"])
    finally:
        admin.close()


def in_sync(bootstrap_servers: str, replicas: int = 3) -> bool:
    """Whether every partition of every topic has ``replicas`` replicas in sync."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        return all(len(p["isr_nodes"]) >= replicas
                   for t in admin.describe_topics() for p in t["partitions"])  # fmt: skip
    except KafkaError:
        return False
    finally:
        admin.close()


def group_members(bootstrap_servers: str, group: str) -> tuple[str, set[str]]:
    """A consumer group's state (``Stable``, ``PreparingRebalance``, ...) and its members'
    instance ids; ``("", set())`` while the coordinator cannot say."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        found = admin.describe_groups([group])[group]
    except KafkaError:
        return "", set()
    finally:
        admin.close()
    members = {m.get("group_instance_id") or m["member_id"] for m in found["members"]}
    return str(found["group_state"]), members


def split_csv(path: Path, parts: int) -> list[Path]:
    """``path`` cut into ``parts`` consecutive files, each with the header."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    out = []
    for k in range(parts):
        chunk = path.with_name(f"{path.stem}.part{k}.csv")
        with chunk.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body[len(body) * k // parts : len(body) * (k + 1) // parts])
        out.append(chunk)
    return out


class Feed:
    """A province sent by ``zjcredit produce`` in ``rounds`` (each source's k-th part of
    every round), ``pause`` seconds apart, in a thread.

    ``summaries`` holds each run's ``--json`` summary (and exit status) in order;
    ``done_rounds`` counts the rounds finished.
    """

    def __init__(self, data_dir: Path, env: dict[str, str], rounds: int, pause: float) -> None:
        self.files = {s: split_csv(data_dir / f"{s}.csv", rounds) for s in SOURCES}
        self.env = env
        self.rounds = rounds
        self.pause = pause
        self.summaries: list[dict[str, Any]] = []
        self.done_rounds = 0
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="feed", daemon=True)

    def start(self) -> Feed:
        self._thread.start()
        return self

    def produce(self, source: str, path: Path) -> dict[str, Any]:
        """One ``zjcredit produce SOURCE PATH --json``: its summary, with its exit status."""
        done = subprocess.run(
            [ZJCREDIT, "produce", source, str(path), "--json"], env=self.env,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        try:
            summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError(f"produce {path} said no summary: {done.stderr}") from None
        summary["status"] = done.returncode
        summary["stderr"] = done.stderr
        return summary

    def _run(self) -> None:
        try:
            for k in range(self.rounds):
                for source in SOURCES:
                    self.summaries.append(self.produce(source, self.files[source][k]))
                self.done_rounds += 1
                time.sleep(self.pause)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            self.failure = error

    def join(self, timeout: float = 600) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the feed did not finish"
        if self.failure is not None:
            raise self.failure

    def wait_rounds(self, rounds: int, timeout: float = 300) -> None:
        assert wait_for(lambda: self.done_rounds >= rounds or self.failure is not None,
                        timeout), f"the feed did not finish {rounds} rounds"  # fmt: skip
        if self.failure is not None:
            raise self.failure

    def acknowledged(self) -> dict[str, int]:
        """Rows acknowledged per source, by the summaries."""
        total: Counter[str] = Counter()
        for summary in self.summaries:
            total[summary["source"]] += summary["acknowledged"]
        return dict(total)


class ClusterRun:
    """One fault test's pipeline on ``cluster``: topics, a province, workers, sinks.

    Args:
        cluster: the started three-node cluster.
        settings: the session's settings (the partition count).
        server_url: a PostgreSQL server's URL (a database is created for the run).
        tmp: a folder others may pass through.
        firms, seed: the province.
    """

    def __init__(self, cluster: KafkaCluster, settings: Settings, server_url: str, tmp: Path,
                 *, firms: int, seed: int) -> None:  # fmt: skip
        self.cluster = cluster
        self.bootstrap = cluster.bootstrap_servers
        self.partitions = settings.partitions
        self.server_url = server_url
        self.tmp = tmp
        self.prefix = f"fault-{uuid.uuid4().hex[:8]}"
        # Replication as the cluster decides: 3 copies, 2 in sync for a write.
        self.specs = create_topics(self.bootstrap, project_topics(replace(
            settings, topic_prefix=self.prefix, replication_factor=None, min_insync_replicas=None,
        )))  # fmt: skip
        self.events: dict[str, list[SourceEvent]] = province(tmp / "province", firms, seed=seed)
        self.expected = Expected.of(self.events, AS_OF)
        self.database = f"fault_{uuid.uuid4().hex[:12]}"
        self.database_url = create_database(server_url, self.database)
        self.env = {"ZJCREDIT_REPLICATION_FACTOR": "", "ZJCREDIT_MIN_INSYNC_REPLICAS": ""}
        self.workers = Workers(self.bootstrap, self.prefix, self.partitions, tmp / "worker",
                               extra_env=self.env)  # fmt: skip
        self.sinks = Sinks(self.bootstrap, self.prefix, self.partitions, tmp / "sink",
                           self.database_url)  # fmt: skip
        self.sinks.env.update(self.env)
        self.ports: dict[int, int] = {}  # pid -> metrics port
        self.watch = Watch(self.bootstrap, self.prefix)

    def feed(self, rounds: int, pause: float) -> Feed:
        env = {**self.workers.env, "ZJCREDIT_RUN_DIR": str(self.tmp / "produce")}
        return Feed(self.tmp / "province", env, rounds, pause)

    def start_worker(self, instance: str = "w0", env: dict[str, str] | None = None
                     ) -> subprocess.Popen[bytes]:  # fmt: skip
        port = free_port()
        proc = self.workers.start(*WORKER_FLAGS, "--metrics-port", str(port),
                                  instance=instance, env=env)  # fmt: skip
        self.ports[proc.pid] = port
        return proc

    def start_sink(self) -> subprocess.Popen[bytes]:
        port = free_port()
        proc = self.sinks.start("--metrics-port", str(port))
        self.ports[proc.pid] = port
        return proc

    def logs(self) -> str:
        nodes = "\n".join(f"--- kafka node {i + 1}: {n.log_path}" for i, n in
                          enumerate(self.cluster.nodes))  # fmt: skip
        return f"{self.workers.logs(40)}\n{self.sinks.logs(40)}\n{nodes}"

    # -- the checks every fault test ends with ---------------------------------------

    def source_records(self) -> dict[str, list[str]]:
        """The event ids on each source topic, every record (duplicates included)."""
        out = {}
        for source in SOURCES:
            topic = CommittedTopic(self.bootstrap, f"{self.prefix}.{source}")
            try:
                out[source] = [codec.decode(r.value)[0]["event_id"] for r in topic.read()]
            finally:
                topic.close()
        return out

    def expect_producers_exact(self, feed: Feed) -> None:
        """Every summary says all rows went (exit 0), and each source topic holds exactly
        the rows acknowledged, each once: none lost, none doubled."""
        failed = [s for s in feed.summaries if s["status"] != 0 or s["sent"] != s["acknowledged"]]
        assert failed == [], [{k: s[k] for k in ("file", "status", "sent", "acknowledged",
                                                 "error", "stderr")} for s in failed]  # fmt: skip
        records = self.source_records()
        acknowledged = feed.acknowledged()
        for source in SOURCES:
            ids = records[source]
            twice = [i for i, n in Counter(ids).items() if n > 1]
            assert twice == [], f"{source}: {len(twice)} events twice, e.g. {twice[:3]}"
            assert len(ids) == acknowledged.get(source, 0) == len(self.events[source]), (
                f"{source}: {len(ids)} on the topic, {acknowledged.get(source)} acknowledged, "
                f"{len(self.events[source])} in the files"
            )

    def expect_oracle(self, alive: Callable[[], None] = lambda: None) -> None:
        """The committed worker outputs are the pure fold's (each notice once, each
        profile version once and in order), and the read model equals the fold."""
        profiles, notices = oracle(itertools.chain(*self.events.values()), AS_OF)
        want = Counter(map(canonical, notices))
        done = self.watch.wait(
            lambda w: w.profiles == profiles and Counter(map(canonical, w.notices)) == want,
            DEADLINE, self.workers,
        )  # fmt: skip
        logs = self.logs()
        assert done, f"not the oracle: {self.watch.describe(profiles, notices)}{logs}"
        ids = Counter(n["notice_id"] for n in self.watch.notices)
        assert [i for i, n in ids.items() if n > 1] == [], f"a notice twice\n{logs}"
        messages = Counter((r.key, r.value) for r in self.watch.penalties_topic.records)
        assert [m for m, n in messages.items() if n > 1] == [], f"a notice sent twice\n{logs}"
        replayed = {u: v for u, v in self.watch.versions.items() if v != sorted(set(v))}
        assert replayed == {}, f"profile versions published out of order or twice\n{logs}"
        assert self.watch.dead_letters == [], logs
        left = wait_until_equal(self.database_url, self.expected, DEADLINE, alive)
        assert left == [], "the read model is not the fold:\n" + "\n".join(left) + logs

    def aborted_profiles(self) -> int:
        """Profile records on the topic that no committed transaction holds."""
        everything = CommittedTopic(self.bootstrap, f"{self.prefix}.profiles",
                                    isolation="read_uncommitted")  # fmt: skip
        try:
            return len(everything.read()) - len(self.watch.profiles_topic.records)
        finally:
            everything.close()

    def close(self) -> None:
        self.workers.close()
        self.sinks.close()
        self.watch.close()
        with contextlib.suppress(Exception):
            drop_database(self.server_url, self.database)


@contextlib.contextmanager
def cluster_run(cluster: KafkaCluster, settings: Settings, server_url: str, tmp: Path,
                *, firms: int, seed: int) -> Iterator[ClusterRun]:  # fmt: skip
    run = ClusterRun(cluster, settings, server_url, tmp, firms=firms, seed=seed)
    try:
        yield run
    finally:
        run.close()
