"""``zjcredit bench worker``: the worker's events/s beside the raw limit and a naive peer.

All three read the same pre-filled topics (a generated province) on the same broker, in
the same run:

- **raw limit**: aiokafka consuming the four topics and decoding every event (Avro,
  the worker's own codec), in this process: what no Python worker can beat;
- **naive peer**: a Faust agent (``benchmarks/worker_peer.py``) that decodes each event and
  writes one Table entry per event, exactly-once, memory store;
- **worker**: ``zjcredit worker`` itself, exactly-once, from empty state stores.

The two Faust processes are timed from outside through their ``/metrics`` counters,
from the first event processed to the last, so start-up is not counted. Then, with the
worker caught up: its restart time (same instance, its stores on disk, until every
partition's store is checked and caught up with the changelog), and freshness (event
reported -> profile committed and readable) p50/p99 under a steady produced load of new
firms. Last line:
``worker ratio=<worker/raw> vs_naive=<worker/naive> goal_vs_naive=3.0``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from base.endpoints import free_port
from base.settings import Settings
from benchmarks.harness import BenchError, run_process
from benchmarks.province import encode_province, fresh_events
from producers.generator import HORIZON, generate
from schemas.codec import Codec
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from streams.changelog import changelog_spec

__all__ = [
    "GOAL_VS_NAIVE",
    "WorkerBench",
    "run_worker_bench",
]

GOAL_VS_NAIVE = 3.0
Say = Callable[[str], None]
_ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))


@dataclass(frozen=True)
class WorkerBench:
    events: int
    raw_rate: float
    naive_rate: float
    worker_rate: float
    first_start_s: float
    restart_s: float
    freshness_p50_ms: float
    freshness_p99_ms: float
    steady_rate: float
    processes_rate: float | None = None  # several worker processes (--processes), if asked

    @property
    def ratio(self) -> float:
        return self.worker_rate / self.raw_rate

    @property
    def vs_naive(self) -> float:
        return self.worker_rate / self.naive_rate


def run_worker_bench(
    settings: Settings, bootstrap: str, enterprises: int, say: Say = print, processes: int = 1
) -> WorkerBench:
    """Fill topics with a province of ``enterprises``, then time all three; print as it goes."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}.worker"
    changelog = changelog_spec(group, settings.partitions, settings.replication_factor)
    create_topics(bootstrap, [*project_topics(replace(settings, topic_prefix=prefix)), changelog])
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder:
        work = Path(folder)
        say(f"generating a province of {enterprises} enterprises ...")
        report = generate(enterprises, seed=7, out_dir=work / "province")
        encoded = encode_province({s: report.paths[s] for s in SOURCES})
        events = sum(len(pairs) for pairs in encoded.values())
        say(f"filling {prefix}.* with {events:,} events ...")
        _fill(bootstrap, prefix, encoded)
        topics = [f"{prefix}.{s}" for s in SOURCES]

        raw = max(_time_raw(bootstrap, topics, settings.partitions, events) for _ in range(2))
        say(f"raw limit    {raw:,.0f} events/s (aiokafka consume + Avro decode)")
        naive = _time_peer(bootstrap, prefix, settings.partitions, events, work)
        say(f"naive agent  {naive:,.0f} events/s (Faust, a Table write per event)")

        env = {
            **os.environ,
            "ZJCREDIT_TOPIC_PREFIX": prefix,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ZJCREDIT_RUN_DIR": str(work / "run"),
        }
        with _worker(env, group, work / "worker1.log") as (port, started):
            rate, first_start = _time_counter(port, _WORKER_EVENTS, events, started)
        say(f"worker       {rate:,.0f} events/s (first start {first_start:.1f} s)")
        multi = None
        if processes > 1:
            multi = _time_processes(env, f"{prefix}.multi", work, processes, events)
            say(f"workers      {multi:,.0f} events/s ({processes} processes, one group)")
        with _worker(env, group, work / "worker2.log") as (port, started):
            restart = _wait_restored(port, settings.partitions, started)
            say(f"restart      {restart:.1f} s to every store restored ({enterprises:,} states)")
            p50, p99, steady = _freshness(bootstrap, prefix, work, enterprises, rate)
        say(f"freshness    p50={p50:.0f} ms p99={p99:.0f} ms at {steady:,.0f} events/s steady")
    return WorkerBench(events, raw, naive, rate, first_start, restart, p50, p99, steady, multi)


def _fill(bootstrap: str, prefix: str, encoded: dict[str, list[tuple[bytes, bytes]]]) -> None:
    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        compression_type="lz4",
        batch_size=256 * 1024,
    )
    for source, pairs in encoded.items():
        for key, value in pairs:
            producer.send(f"{prefix}.{source}", key=key, value=value)
    producer.flush()
    producer.close()


def _time_raw(bootstrap: str, topics: list[str], partitions: int, events: int) -> float:
    return asyncio.run(_consume_and_decode(bootstrap, topics, partitions, events))


async def _consume_and_decode(
    bootstrap: str, topics: list[str], partitions: int, events: int
) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: PLC0415

    codec = Codec(ManifestRegistry.load())
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen, started = 0, time.perf_counter()
        while seen < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                for record in records:
                    codec.decode(record.value)
                seen += len(records)
        return events / (time.perf_counter() - started)
    finally:
        await consumer.stop()


_WORKER_EVENTS = re.compile(
    r"^zjcredit_worker_(?:events|dead_letters)_total\{[^}]*\} ([0-9.e+]+)$", re.M
)
_PEER_EVENTS = re.compile(r"^zjcredit_bench_peer_events_total ([0-9.e+]+)$", re.M)


def _counter(port: int, pattern: re.Pattern[str]) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    return sum(float(x) for x in pattern.findall(text))


def _time_counter(
    port: int, pattern: re.Pattern[str], events: int, started: float, limit_s: float = 1200.0
) -> tuple[float, float]:
    """(events/s from the first counted event to the last, seconds until the first)."""
    first: tuple[float, float] | None = None
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        now, count = time.monotonic(), _counter(port, pattern) or 0.0
        if count > 0 and first is None:
            first = (now, count)
        if count >= events and first is not None:
            if now == first[0]:
                raise BenchError("everything was processed between two polls: use more events")
            return (count - first[1]) / (now - first[0]), first[0] - started
        time.sleep(0.2)
    raise TimeoutError(f"did not reach {events} events in {limit_s:.0f} s")


def _time_peer(bootstrap: str, prefix: str, partitions: int, events: int, work: Path) -> float:
    port, topics = free_port(), [f"{prefix}.{s}" for s in SOURCES]
    env = {
        **os.environ,
        "BENCH_BROKER": bootstrap,
        "BENCH_APP_ID": f"{prefix}.peer",
        "BENCH_TOPICS": ",".join(topics),
        "BENCH_PARTITIONS": str(partitions),
        "BENCH_DATA_DIR": str(work / "peer"),
        "BENCH_METRICS_PORT": str(port),
    }
    with run_process(
        [sys.executable, "-m", "benchmarks.worker_peer", "-L", "uvloop", "worker", "-l", "warn"],
        env,
        work / "peer.log",
    ) as started:
        return _time_counter(port, _PEER_EVENTS, events, started)[0]


@contextlib.contextmanager
def _worker(env: dict[str, str], group: str, log: Path) -> Iterator[tuple[int, float]]:
    port = free_port()
    argv = [
        _ZJCREDIT,
        "worker",
        "--as-of",
        HORIZON.isoformat(),
        "--group",
        group,
        "--instance",
        "w0",
        "--metrics-port",
        str(port),
        "--loglevel",
        "info",
    ]
    with run_process(argv, env, log) as started:
        yield port, started


_RESTORES = re.compile(r"^zjcredit_worker_store_restores_total\{[^}]*\} ([0-9.e+]+)$", re.M)


def _wait_restored(port: int, partitions: int, started: float, limit_s: float = 600.0) -> float:
    """Seconds from ``started`` until the worker has restored every partition's store."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if (_counter(port, _RESTORES) or 0) >= partitions:
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"the worker's stores were not restored in {limit_s:.0f} s")


def _time_processes(env: dict[str, str], group: str, work: Path, n: int, events: int) -> float:
    """Events/s of ``n`` worker processes in one new group over the same topics."""
    ports = [free_port() for _ in range(n)]
    with contextlib.ExitStack() as stack:
        for i, port in enumerate(ports):
            argv = [_ZJCREDIT, "worker", "--as-of", HORIZON.isoformat(), "--group", group,
                    "--instance", f"p{i}", "--metrics-port", str(port)]  # fmt: skip
            stack.enter_context(run_process(argv, env, work / f"multi-{i}.log"))
        first: float | None = None
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline:
            count = sum(_counter(p, _WORKER_EVENTS) or 0.0 for p in ports)
            now = time.monotonic()
            if count > 0 and first is None:
                first, at_first = now, count
            if first is not None and count >= events:
                return (count - at_first) / (now - first)
            time.sleep(0.2)
    raise TimeoutError(f"{n} workers did not fold {events} events in 1200 s")


def _read_freshness(bootstrap: str, topic: str, start_ms: float, *, ready: Any, stop: Any,
                    out: Any) -> None:  # fmt: skip
    """In a process of its own (so the sender's work does not delay it): for each profile
    committed on ``topic`` whose ``last_reported_at`` is after ``start_ms``, the
    milliseconds from that to being read. Puts the list on ``out`` once ``stop`` is set."""
    from kafka import KafkaConsumer  # noqa: PLC0415

    codec = Codec(ManifestRegistry.load())
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        group_id=None,
        # The measuring reader must not add its own long-poll: kafka-python keeps one
        # fetch in flight per broker, waiting up to this for partitions with nothing new.
        fetch_max_wait_ms=20,
    )
    consumer.poll(timeout_ms=1000)  # join: positions at the end before anything is sent
    ready.set()
    samples: list[float] = []
    while not stop.is_set():
        for batch in consumer.poll(timeout_ms=100).values():
            received = time.time() * 1000
            for record in batch:
                reported = codec.decode(record.value)[0]["last_reported_at"].timestamp() * 1000
                if reported >= start_ms:
                    samples.append(received - reported)
    consumer.close()
    out.put(samples)


def _freshness(
    bootstrap: str, prefix: str, work: Path, enterprises: int, worker_rate: float
) -> tuple[float, float, float]:
    """Send new firms' events at half the worker's rate, at most 5,000/s, for ~15 s; time
    each profile from its ``reported_at`` to being read (committed) by another process."""
    import multiprocessing  # noqa: PLC0415

    from kafka import KafkaProducer  # noqa: PLC0415

    rate = max(200.0, min(worker_rate / 2, 5000.0))
    count = int(rate * 15)
    rows = fresh_events(work, max(200, count // 7), count)
    codec = Codec(ManifestRegistry.load())
    spawn = multiprocessing.get_context("spawn")
    ready, stop, out = spawn.Event(), spawn.Event(), spawn.Queue()
    start_ms = time.time() * 1000
    reader = spawn.Process(target=_read_freshness, daemon=True,
                           args=(bootstrap, f"{prefix}.profiles", start_ms),
                           kwargs={"ready": ready, "stop": stop, "out": out})  # fmt: skip
    reader.start()
    if not ready.wait(60):
        raise BenchError("the freshness reader did not start")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    began = time.perf_counter()
    for i, (source, event) in enumerate(rows):
        due = began + i / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        event["reported_at"] = dt.datetime.now(dt.UTC)
        producer.send(
            f"{prefix}.{source}", key=event["uscc"].encode(), value=codec.encode(source, event)
        )
    producer.flush()
    sent_rate = len(rows) / (time.perf_counter() - began)
    time.sleep(5)  # the last batches: a commit and a read
    stop.set()
    samples: list[float] = out.get(timeout=60)
    reader.join(30)
    producer.close()
    if len(samples) < 20:
        raise BenchError(f"only {len(samples)} profiles seen under steady load")
    q = statistics.quantiles(samples, n=100)
    return statistics.median(samples), q[98], sent_rate
