"""``zjcredit bench sink``: the sink's rows/s beside raw COPY of the same rows.

In one run, on one broker and one PostgreSQL server, in a scratch database created for
the run and dropped after it:

- a generated province is folded with the pure core and its final profiles are
  produced to a fresh profiles topic (untimed);
- **sink**: :class:`sink.service.Sink` reads that topic and writes the read model
  (COPY into temporary tables, version-guarded upserts, children replaced, offsets
  stored), timed from its first batch to its last (group join not counted);
- **raw COPY**: the very same rows (enterprise + children) copied straight into the
  same, emptied tables in transactions of the same size: the server's limit;

alternating, twice each, best of each. With ``--rebuild-profiles N``, ``zjcredit sink
rebuild`` of N profiles beside raw COPY of the same rows (:mod:`benchmarks.sink_rebuild`).
Then freshness of the whole pipeline under a
steady load: ``zjcredit worker`` and ``zjcredit sink`` run as processes, new firms'
events are sent at a steady rate with ``reported_at`` = now, and each enterprise row's
``committed_at - last_reported_at`` is read back. Last line: ``sink ratio=<x.xx> goal=0.50``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg

from base.settings import Settings
from benchmarks.harness import BenchError, scratch_database
from benchmarks.harness import run_process as _process
from benchmarks.sink_rebuild import (
    RebuildBench,
    Timing,
    copy_rows,
    reset_read_model,
    run_rebuild_bench,
    table_rows,
)
from producers.generator import HORIZON
from readmodel import rows as r
from readmodel.migrate import SCHEMA
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.topics import create_topics, project_topics
from sink.service import Sink, SinkOptions

__all__ = ["GOAL", "SinkBench", "run_sink_bench"]

GOAL = 0.50
Say = Callable[[str], None]
_ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))
_BATCH = 2_500  # rows per raw COPY transaction: about what the sink's batches hold


@dataclass(frozen=True)
class SinkBench:
    profiles: int
    sink_rate: float
    copy_rate: float
    freshness_p50_ms: float
    freshness_p99_ms: float
    steady_rate: float
    fresh_rows: int
    rebuild: RebuildBench | None = None

    @property
    def ratio(self) -> float:
        return self.sink_rate / self.copy_rate


def run_sink_bench(
    settings: Settings,
    bootstrap: str,
    database_url: str,
    enterprises: int,
    say: Say = print,
    *,
    rebuild_profiles: int = 0,
) -> SinkBench:
    """Fill a profiles topic from a province of ``enterprises``; time sink and raw COPY.

    ``rebuild_profiles``: also time ``zjcredit sink rebuild`` of that many profiles
    beside raw COPY (:mod:`benchmarks.sink_rebuild`; 0: skip).
    """
    from benchmarks.province import fresh_events, province_profiles  # noqa: PLC0415

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, project_topics(replace(settings, topic_prefix=prefix)))
    with (
        tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder,
        scratch_database(database_url) as scratch,
    ):
        work = Path(folder)
        say(f"folding a province of {enterprises} enterprises into profiles ...")
        frames = province_profiles(work, enterprises)
        _fill(bootstrap, f"{prefix}.profiles", frames)
        codec = Codec(ManifestRegistry.load())
        rows = [r.profile_rows(codec.decode(value)[0]) for _, value in frames]
        sink_rates, copy_rates = [], []
        for round_ in (1, 2):
            rate = asyncio.run(_time_sink(bootstrap, scratch, prefix, len(rows)))
            sink_rates.append(rate)
            say(f"round {round_}: sink     {rate:,.0f} rows/s")
            rate = asyncio.run(_time_copy(scratch, rows))
            copy_rates.append(rate)
            say(f"round {round_}: raw COPY {rate:,.0f} rows/s")
        rebuild = None
        if rebuild_profiles:
            rebuild = run_rebuild_bench(
                settings, bootstrap, scratch, frames, count=rebuild_profiles, say=say
            )
        say("freshness: worker + sink under a steady load of new firms ...")
        p50, p99, steady, n = _freshness(bootstrap, scratch, work, fresh_events)
    return SinkBench(
        len(rows), max(sink_rates), max(copy_rates), p50, p99, steady, n, rebuild=rebuild
    )


def _fill(bootstrap: str, topic: str, frames: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        compression_type="lz4",
        batch_size=512 * 1024,
    )
    for key, value in frames:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


async def _time_sink(bootstrap: str, database_url: str, prefix: str, expected: int) -> float:
    await reset_read_model(database_url)
    timing = Timing()
    options = SinkOptions(
        bootstrap,
        database_url,
        prefix,
        group=f"{prefix}.sink-{uuid.uuid4().hex[:6]}",
        until_caught_up=True,
        roles=("profiles",),
    )
    totals = await Sink(options, metrics=timing, say=lambda _: None).run()
    if totals.rows["enterprise"] != expected or timing.first is None:
        raise BenchError(f"the sink wrote {totals.rows['enterprise']} of {expected} profiles")
    return expected / (timing.last - timing.first)


async def _time_copy(database_url: str, rows: list[r.ProfileRows]) -> float:
    await reset_read_model(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        for i in range(0, len(rows), _BATCH):
            await copy_rows(conn, table_rows(rows[i : i + _BATCH]))
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.close()


# The province's expected peak flow (issue 12's goal: end to end p99 < 1.5 s at this rate).
_STEADY_RATE = 5000.0


def _wait_for(log: Path, text: str, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{log.name}: no {text!r} in {limit_s:.0f} s")
        time.sleep(0.2)


def _freshness(
    bootstrap: str,
    database_url: str,
    work: Path,
    fresh_events: Callable[..., list[tuple[str, dict[str, Any]]]],
) -> tuple[float, float, float, int]:
    """Worker + sink as processes; new firms' events at a steady rate; committed - reported."""
    from kafka import KafkaProducer  # noqa: PLC0415

    asyncio.run(reset_read_model(database_url))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": database_url,
        "ZJCREDIT_TOPIC_PREFIX": prefix,
        "ZJCREDIT_RUN_DIR": str(work / "run"),
    }
    rate, seconds = _STEADY_RATE, 15.0
    count = int(rate * seconds)
    events = fresh_events(work, max(400, count // 7), count)  # ~7 events a generated firm
    codec = Codec(ManifestRegistry.load())
    worker = [_ZJCREDIT, "worker", "--as-of", HORIZON.isoformat(), "--tick-interval", "60"]
    with (
        _process(worker, env, work / "worker.log"),
        _process([_ZJCREDIT, "sink"], env, work / "sink.log"),
    ):
        _wait_for(work / "worker.log", "[^Worker]: Ready")
        _wait_for(work / "sink.log", "resuming from PostgreSQL")
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        began = time.perf_counter()
        started_at = time.time()
        for i, (source, event) in enumerate(events):
            if (wait := began + i / rate - time.perf_counter()) > 0:
                time.sleep(wait)
            event["reported_at"] = dt.datetime.now(dt.UTC)
            producer.send(
                f"{prefix}.{source}", key=event["uscc"].encode(), value=codec.encode(source, event)
            )
        producer.flush()
        sent_rate = len(events) / (time.perf_counter() - began)
        producer.close()
        time.sleep(8)  # the last batches: worker batch + commit, sink poll + commit
    samples = asyncio.run(_lags(database_url, started_at))
    if len(samples) < 20:
        raise BenchError(f"only {len(samples)} enterprise rows were written under load")
    q = statistics.quantiles(samples, n=100)
    return statistics.median(samples), q[98], sent_rate, len(samples)


async def _lags(database_url: str, since: float) -> list[float]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"select extract(epoch from committed_at - last_reported_at) * 1000 "
            f"from {SCHEMA}.enterprise where last_reported_at >= to_timestamp($1)",
            since,
        )
        return [float(x[0]) for x in rows]
    finally:
        await conn.close()
