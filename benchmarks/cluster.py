"""``zjcredit bench cluster``: one node against three, and a broker kill's cost in freshness.

In one run, on the same machine, with the same province:

- a **one-node** cluster, then a **three-node** cluster (each node broker + controller;
  topics at replication factor 1, then 3 with ``min.insync.replicas=2``), each started for
  the measurement and stopped after it. On each: the **producer** library (the departments'
  :class:`~producers.publisher.Publisher`, acks=all, idempotent) sending the pre-encoded
  province, then ``zjcredit worker`` folding it from empty stores, timed through its
  ``/metrics`` from the first event to the last (start-up not counted);
- then, on the three nodes, with the worker caught up and new firms' events sent at a
  steady ``rate``: the node that leads the most partitions is SIGKILLed, and the time
  from the kill until the **worker's freshness** (event reported -> profile committed
  and read by another process) is back under 2 s for good: the last profile read at or
  over 2 s after the kill, provided 5 s of profiles under 2 s follow it.

The clusters come from the caller (the ``zjcredit`` command starts them: the stages do not
start servers). Last line:
``cluster ratio=<3-node worker rate / 1-node> recovery_s=<s>``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from base.settings import Settings
from benchmarks.harness import BenchError
from benchmarks.province import encode_province, fresh_events
from benchmarks.worker import _WORKER_EVENTS, _time_counter, _worker
from producers.generator import generate
from producers.publisher import Publisher
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from streams.changelog import changelog_spec

__all__ = ["ClusterBench", "Nodes", "recovery_seconds", "run_cluster_bench"]

Say = Callable[[str], None]
LIMIT_MS = 2000.0  # "freshness back under 2 s"
HOLD_S = 5.0  # ... and staying there this long
BASELINE_S = 10.0  # steady load before the kill
GIVE_UP_S = 90.0  # no recovery by then: said, and the bench fails


class Nodes(Protocol):
    """A started cluster the bench may kill a node of (zjcredit.stack.cluster.KafkaCluster)."""

    bootstrap_servers: str

    def kill(self, node_id: int) -> None: ...

    def restart(self, node_id: int, timeout: float = ...) -> None: ...


StartCluster = Callable[[int], AbstractContextManager[Nodes]]


@dataclass(frozen=True)
class Side:
    """One cluster's rates."""

    brokers: int
    producer_rate: float
    worker_rate: float


@dataclass(frozen=True)
class ClusterBench:
    events: int
    one: Side
    three: Side
    killed_node: int
    killed_leads: int
    steady_rate: float
    before_p99_ms: float
    worst_ms: float
    recovery_s: float

    @property
    def ratio(self) -> float:
        return self.three.worker_rate / self.one.worker_rate


def recovery_seconds(
    samples: Sequence[tuple[float, float]], kill_s: float, limit_ms: float = LIMIT_MS,
    hold_s: float = HOLD_S,
) -> float | None:  # fmt: skip
    """Seconds from ``kill_s`` until freshness is under ``limit_ms`` for good.

    ``samples`` are ``(read at, s; freshness, ms)``. Recovered at the last sample read
    after the kill at or over the limit (at the kill if none was), if samples under the
    limit follow it for ``hold_s`` at least; None if they do not (not recovered yet).
    """
    after = sorted(s for s in samples if s[0] >= kill_s)
    late = [at for at, fresh in after if fresh >= limit_ms]
    recovered = late[-1] if late else kill_s
    following = [at for at, _ in after if at > recovered]
    if not following or following[-1] - recovered < hold_s:
        return None
    return recovered - kill_s


def run_cluster_bench(settings: Settings, start_cluster: StartCluster, enterprises: int,
                      rate: float, say: Say = print) -> ClusterBench:  # fmt: skip
    """Time one node, then three; then a broker kill on the three. Prints as it goes."""
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder:
        work = Path(folder)
        say(f"generating a province of {enterprises} enterprises ...")
        report = generate(enterprises, seed=7, out_dir=work / "province")
        encoded = encode_province({s: report.paths[s] for s in SOURCES})
        events = sum(len(pairs) for pairs in encoded.values())
        sides = []
        for brokers in (1, 3):
            say(f"starting a {brokers}-node cluster ...")
            with start_cluster(brokers) as nodes:
                run = _Run(settings, nodes.bootstrap_servers, work / f"n{brokers}")
                producer = run.fill(encoded, events)
                say(f"{brokers} node(s): producer {producer:,.0f} events/s (acks=all, "
                    f"replication {min(3, brokers)}), {events:,} events")  # fmt: skip
                with run.worker() as (port, started):
                    worker = _time_counter(port, _WORKER_EVENTS, events, started)[0]
                    say(f"{brokers} node(s): worker {worker:,.0f} events/s")
                    sides.append(Side(brokers, producer, worker))
                    if brokers == 3:
                        kill = _kill_under_load(nodes, run, rate, work, say)
        return ClusterBench(events, sides[0], sides[1], *kill)


class _Run:
    """One cluster's topics (a fresh prefix, replication as the cluster's size decides)."""

    def __init__(self, settings: Settings, bootstrap: str, work: Path) -> None:
        self.bootstrap = bootstrap
        self.work = work
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.group = f"{self.prefix}.worker"
        ours = replace(settings, topic_prefix=self.prefix, replication_factor=None,
                       min_insync_replicas=None)  # fmt: skip
        changelog = changelog_spec(self.group, settings.partitions, None)
        create_topics(bootstrap, [*project_topics(ours), changelog])
        self.env = {
            **{k: v for k, v in os.environ.items()
               if k not in ("ZJCREDIT_REPLICATION_FACTOR", "ZJCREDIT_MIN_INSYNC_REPLICAS")},
            "ZJCREDIT_TOPIC_PREFIX": self.prefix,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ZJCREDIT_PARTITIONS": str(settings.partitions),
            "ZJCREDIT_RUN_DIR": str(work / "run"),
        }  # fmt: skip

    def fill(self, encoded: dict[str, list[tuple[bytes, bytes]]], events: int) -> float:
        """Send the province through the departments' publisher; events/s to the last ack."""
        started = time.perf_counter()
        with Publisher(self.bootstrap, topic_prefix=self.prefix) as publisher:
            for source, pairs in encoded.items():
                for at in range(0, len(pairs), 10_000):
                    chunk = pairs[at : at + 10_000]
                    publisher.send_encoded(source, [k for k, _ in chunk], [v for _, v in chunk])
            done = publisher.flush()
        if done.acknowledged != events:
            raise BenchError(f"{done.acknowledged} of {events} events acknowledged: "
                             f"{done.first_error}")  # fmt: skip
        return events / (time.perf_counter() - started)

    def worker(self) -> AbstractContextManager[tuple[int, float]]:
        self.work.mkdir(parents=True, exist_ok=True)
        return _worker(self.env, self.group, self.work / "worker.log")


def _leaders(bootstrap: str) -> Counter[int]:
    from kafka import KafkaAdminClient  # noqa: PLC0415

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return Counter(p["leader_id"] for t in admin.describe_topics() for p in t["partitions"])
    finally:
        admin.close()


def _kill_under_load(nodes: Nodes, run: _Run, rate: float, work: Path,
                     say: Say) -> tuple[int, int, float, float, float, float]:  # fmt: skip
    """Steady load, kill the node leading the most partitions, wait for freshness to
    recover; (node, partitions it led, rate sent, p99 before, worst after, recovery s)."""
    node, leads = _leaders(run.bootstrap).most_common(1)[0]
    with _Load(run, rate, work) as load:
        time.sleep(BASELINE_S)
        kill_s = time.time()
        nodes.kill(node)
        say(f"killed node {node} (it led {leads} partitions) at {rate:,.0f} events/s steady")
        recovered: float | None = None
        while recovered is None and time.time() - kill_s < GIVE_UP_S:
            time.sleep(1.0)
            recovered = recovery_seconds(load.samples(), kill_s)
    samples = load.samples()
    restart = threading.Thread(target=nodes.restart, args=(node,), daemon=True)
    restart.start()  # back to three for a clean stop; nothing waits on it
    restart.join(GIVE_UP_S)
    before = [f for at, f in samples if kill_s - BASELINE_S + 2 <= at < kill_s]
    after = [f for at, f in samples if at >= kill_s]
    if recovered is None or len(before) < 20 or not after:
        raise BenchError(
            f"freshness not back under {LIMIT_MS / 1000:.0f} s within {GIVE_UP_S:.0f} s of "
            f"the kill ({len(after)} profiles read after it)"
        )
    p99 = statistics.quantiles(before, n=100)[98]
    say(f"freshness before p99={p99:.0f} ms; worst after the kill {max(after) / 1000:.1f} s; "
        f"back under 2 s {recovered:.1f} s after it")  # fmt: skip
    return node, leads, load.sent_rate, p99, max(after), recovered


def _read_profiles(bootstrap: str, topic: str, start_ms: float, *, ready: Any, stop: Any,
                   out: Any) -> None:  # fmt: skip
    """In a process of its own: ``(read at s, freshness ms)`` of every committed profile
    reported after ``start_ms``, sent to ``out`` every second."""
    from kafka import KafkaConsumer  # noqa: PLC0415

    codec = Codec(ManifestRegistry.load())
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, isolation_level="read_committed",
        auto_offset_reset="latest", enable_auto_commit=False, group_id=None,
        fetch_max_wait_ms=20,  # benchmarks/worker.py _read_freshness says why
        metadata_max_age_ms=2000,  # a killed leader is forgotten within 2 s
    )  # fmt: skip
    consumer.poll(timeout_ms=1000)
    ready.set()
    batch: list[tuple[float, float]] = []
    flushed = time.monotonic()
    while not stop.is_set():
        for records in consumer.poll(timeout_ms=100).values():
            now = time.time()
            for record in records:
                reported = codec.decode(record.value)[0]["last_reported_at"].timestamp()
                if reported * 1000 >= start_ms:
                    batch.append((now, (now - reported) * 1000))
        if time.monotonic() - flushed >= 1.0:
            out.put(batch)
            batch, flushed = [], time.monotonic()
    out.put(batch)
    consumer.close()


class _Load:
    """New firms' events at ``rate`` through the publisher, in a thread, and a reader of
    the committed profiles in a process of its own, until the block ends."""

    def __init__(self, run: _Run, rate: float, work: Path) -> None:
        self.run, self.rate = run, rate
        self.rows = fresh_events(work, max(200, int(rate * GIVE_UP_S) // 7),
                                 int(rate * (GIVE_UP_S + BASELINE_S + 30)))  # fmt: skip
        spawn = multiprocessing.get_context("spawn")
        self.ready, self.stop, self.out = spawn.Event(), spawn.Event(), spawn.Queue()
        self.reader = spawn.Process(
            target=_read_profiles, daemon=True,
            args=(run.bootstrap, f"{run.prefix}.profiles", time.time() * 1000),
            kwargs={"ready": self.ready, "stop": self.stop, "out": self.out},
        )  # fmt: skip
        self._samples: list[tuple[float, float]] = []
        self._done = threading.Event()
        self._sender = threading.Thread(target=self._send, name="load", daemon=True)
        self.sent_rate = 0.0

    def _send(self) -> None:
        codec = Codec(ManifestRegistry.load())
        with Publisher(self.run.bootstrap, topic_prefix=self.run.prefix) as publisher:
            began = time.perf_counter()
            sent = 0
            for source, event in self.rows:
                if self._done.is_set():
                    break
                if (wait := began + sent / self.rate - time.perf_counter()) > 0:
                    time.sleep(wait)
                event["reported_at"] = dt.datetime.now(dt.UTC)
                publisher.send_encoded(source, [event["uscc"].encode()],
                                       [codec.encode(source, event)])  # fmt: skip
                sent += 1
            self.sent_rate = sent / (time.perf_counter() - began)
            publisher.flush()

    def samples(self) -> list[tuple[float, float]]:
        with contextlib.suppress(Exception):
            while True:
                self._samples += self.out.get_nowait()
        return list(self._samples)

    def __enter__(self) -> _Load:
        self.reader.start()
        if not self.ready.wait(60):
            raise BenchError("the freshness reader did not start")
        self._sender.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._sender.join(60)
        time.sleep(2)  # the last profiles: a commit and a read
        self.stop.set()
        deadline = time.monotonic() + 30
        while self.reader.is_alive() and time.monotonic() < deadline:
            self.samples()
            time.sleep(0.2)
        self.samples()
        self.reader.join(5)
